// The seam between the readers/writers and where bytes live. Only local files exist today; an S3 store will
// implement the same interface (rename becomes copy+delete or a manifest commit there), chosen by `storeFor`.
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as nodePath from 'node:path';
import { UnsupportedError } from '../types/errors.ts';

export interface FileInfo {
  readonly kind: 'file' | 'dir';
  readonly size: number;
}

export interface DirEntry {
  readonly name: string;
  readonly kind: 'file' | 'dir';
}

export interface FileStore {
  /** null when nothing exists at `path`. */
  stat(path: string): Promise<FileInfo | null>;
  list(dir: string): Promise<DirEntry[]>;
  /** Bytes [start, end) of a file. */
  readRange(path: string, start: number, end: number): Promise<Uint8Array>;
  /** A lazily read Blob over the file (what parquet-wasm's `ParquetFile.fromFile` takes). */
  openBlob(path: string): Promise<Blob>;
  /** The file as a stream of chunks. */
  readChunks(path: string, chunkSize?: number): AsyncIterable<Uint8Array>;
  writeFile(path: string, data: Uint8Array | string): Promise<void>;
  /** An appendable sink for large text outputs; `close` flushes. */
  openWriter(path: string): Promise<FileWriter>;
  mkdir(path: string): Promise<void>;
  /** Atomic within one store when the target does not exist. */
  rename(from: string, to: string): Promise<void>;
  /** Recursive, and no error if nothing is there. */
  remove(path: string): Promise<void>;
  join(...parts: string[]): string;
  dirname(path: string): string;
  basename(path: string): string;
}

export interface FileWriter {
  write(chunk: string | Uint8Array): Promise<void>;
  close(): Promise<void>;
}

class LocalFileStore implements FileStore {
  async stat(path: string): Promise<FileInfo | null> {
    try {
      const s = await fsp.stat(path);
      return { kind: s.isDirectory() ? 'dir' : 'file', size: s.size };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') return null;
      throw e;
    }
  }

  async list(dir: string): Promise<DirEntry[]> {
    const entries = await fsp.readdir(dir, { withFileTypes: true });
    const out: DirEntry[] = [];
    for (const e of entries) {
      let isDir = e.isDirectory();
      if (e.isSymbolicLink()) isDir = (await this.stat(nodePath.join(dir, e.name)))?.kind === 'dir';
      out.push({ name: e.name, kind: isDir ? 'dir' : 'file' });
    }
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async readRange(path: string, start: number, end: number): Promise<Uint8Array> {
    const fh = await fsp.open(path, 'r');
    try {
      const out = new Uint8Array(Math.max(0, end - start));
      let got = 0;
      while (got < out.length) {
        const { bytesRead } = await fh.read(out, got, out.length - got, start + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      return got === out.length ? out : out.subarray(0, got);
    } finally {
      await fh.close();
    }
  }

  openBlob(path: string): Promise<Blob> {
    return fs.openAsBlob(path);
  }

  async *readChunks(path: string, chunkSize = 4 << 20): AsyncIterable<Uint8Array> {
    const stream = fs.createReadStream(path, { highWaterMark: chunkSize });
    for await (const chunk of stream) yield chunk as Uint8Array;
  }

  async writeFile(path: string, data: Uint8Array | string): Promise<void> {
    await fsp.writeFile(path, data);
  }

  async openWriter(path: string): Promise<FileWriter> {
    const fh = await fsp.open(path, 'w');
    return {
      async write(chunk) {
        if (typeof chunk === 'string') await fh.write(chunk);
        else await fh.write(chunk);
      },
      async close() {
        await fh.close();
      },
    };
  }

  async mkdir(path: string): Promise<void> {
    await fsp.mkdir(path, { recursive: true });
  }

  async rename(from: string, to: string): Promise<void> {
    await fsp.rename(from, to);
  }

  async remove(path: string): Promise<void> {
    await fsp.rm(path, { recursive: true, force: true });
  }

  join(...parts: string[]): string {
    return nodePath.join(...parts);
  }

  dirname(path: string): string {
    return nodePath.dirname(path);
  }

  basename(path: string): string {
    return nodePath.basename(path);
  }
}

export const localFileStore: FileStore = new LocalFileStore();

/** The store that holds `path`. */
export function storeFor(path: string): FileStore {
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]+):\/\//.exec(path)?.[1];
  if (scheme === undefined || scheme === 'file') return localFileStore;
  throw new UnsupportedError(`paths with scheme '${scheme}://' are not supported yet (in '${path}'); use a local path`);
}

/** Strip a `file://` prefix. */
export function localPath(path: string): string {
  return path.startsWith('file://') ? path.slice('file://'.length) : path;
}
