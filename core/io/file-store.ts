// The seam between the readers/writers and where bytes live: local files here, `s3://` objects in
// s3-file-store.ts (no rename there: writers commit to S3 with a manifest, see writers.ts), chosen by `storeFor`.
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as nodePath from 'node:path';
import { UnsupportedError } from '../types/errors.ts';
import { s3FileStore } from './s3-file-store.ts';

export interface FileInfo {
  readonly kind: 'file' | 'dir';
  readonly size: number;
  /** Changes whenever the content is replaced: S3's ETag; modification time and inode for local files. */
  readonly etag?: string;
}

export interface ReadRange {
  /** Inclusive. */
  readonly start: number;
  /** Exclusive. */
  readonly end: number;
}

export interface DirEntry {
  readonly name: string;
  readonly kind: 'file' | 'dir';
}

export interface FileStore {
  /** True for object stores (S3): each request costs latency, so reads are planned into few large ones. */
  readonly remote: boolean;
  /** null when nothing exists at `path`. */
  stat(path: string): Promise<FileInfo | null>;
  list(dir: string): Promise<DirEntry[]>;
  /** Bytes [start, end) of a file. */
  readRange(path: string, start: number, end: number): Promise<Uint8Array>;
  /** Bytes of each range, in the order asked; a remote store coalesces them into few large requests. */
  readRanges(path: string, ranges: readonly ReadRange[]): Promise<Uint8Array[]>;
  /** A lazily read Blob over the file (what parquet-wasm's `ParquetFile.fromFile` takes). */
  openBlob(path: string): Promise<Blob>;
  /** The file as a stream of chunks. */
  readChunks(path: string, chunkSize?: number): AsyncIterable<Uint8Array>;
  writeFile(path: string, data: Uint8Array | string): Promise<void>;
  /** An appendable sink for large text outputs; `close` flushes. */
  openWriter(path: string): Promise<FileWriter>;
  mkdir(path: string): Promise<void>;
  /** Atomic within one store when the target does not exist (local files; not on S3). */
  rename(from: string, to: string): Promise<void>;
  /** A copy of one file (server-side on S3). */
  copy(from: string, to: string): Promise<void>;
  /** Recursive, and no error if nothing is there. */
  remove(path: string): Promise<void>;
  join(...parts: string[]): string;
  dirname(path: string): string;
  basename(path: string): string;
}

export interface FileWriter {
  write(chunk: string | Uint8Array): Promise<void>;
  close(): Promise<void>;
  /** Gives up: nothing appears at the path (remote stores; a local partial file is removed by the caller). */
  abort?(): Promise<void>;
}

class LocalFileStore implements FileStore {
  readonly remote = false;

  async stat(path: string): Promise<FileInfo | null> {
    try {
      const s = await fsp.stat(path, { bigint: true });
      // A local stand-in for an ETag (modification time and inode): footers of unchanged files are parsed once,
      // and cache keys (core/cache/versions.ts) change when a file or folder is replaced.
      return { kind: s.isDirectory() ? 'dir' : 'file', size: Number(s.size), etag: `${s.mtimeNs}:${s.ino}` };
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

  readRanges(path: string, ranges: readonly ReadRange[]): Promise<Uint8Array[]> {
    return Promise.all(ranges.map((r) => this.readRange(path, r.start, r.end)));
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
      async abort() {
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

  async copy(from: string, to: string): Promise<void> {
    await fsp.copyFile(from, to);
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
  if (scheme === 's3' || scheme === 's3a') return s3FileStore();
  throw new UnsupportedError(`paths with scheme '${scheme}://' are not supported yet (in '${path}'); use a local path`);
}

/** Whether `path` is an object-store URI (`s3://`, `s3a://`). */
export function isRemotePath(path: string): boolean {
  return /^s3a?:\/\//i.test(path);
}

/** Strip a `file://` prefix. */
export function localPath(path: string): string {
  return path.startsWith('file://') ? path.slice('file://'.length) : path;
}
