// The object store over the local file system: an object is a file, its key its path. Puts write a temporary
// file beside the target and rename it, so a reader sees the old object or the new one, never a torn one
// (as on S3). Listing is by string prefix over the files below the prefix's folder, in S3's key order.
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as nodePath from 'node:path';
import { randomBytes } from 'node:crypto';
import {
  type ListEntry,
  type ListOptions,
  type ListPage,
  type ObjectInfo,
  type ObjectStore,
  type ObjectWriter,
  type PutOptions,
  type PutResult,
  type StreamPutOptions,
  ObjectStoreError,
  describeRange,
  parseObjectUri,
  toBytes,
} from './object-store.ts';

const TEMP_MARK = '.squall-tmp-';

function pathOf(uri: string): string {
  const p = parseObjectUri(uri);
  if (p.scheme !== 'file') throw new ObjectStoreError(uri, 'parse', 'InvalidURI', 'not a local path', undefined);
  return p.path;
}

function fail(uri: string, operation: string, e: unknown): never {
  if (e instanceof ObjectStoreError) throw e;
  const code = (e as NodeJS.ErrnoException).code;
  const mapped = code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR' ? 'NoSuchKey' : code ?? 'Error';
  throw new ObjectStoreError(uri, operation, mapped, (e as Error).message, undefined, { cause: e });
}

function etagOf(s: fs.BigIntStats): string {
  // A rename-based put gives a new inode, so inode + mtime + size changes whenever the content is replaced.
  return `"${s.ino.toString(16)}-${s.mtimeNs.toString(16)}-${s.size.toString(16)}"`;
}

function infoOf(s: fs.BigIntStats): ObjectInfo {
  return { size: Number(s.size), etag: etagOf(s), lastModified: new Date(Number(s.mtimeMs)) };
}

/** S3 orders keys by their UTF-8 bytes; JavaScript compares UTF-16 units, which differs above U+FFFF only. */
function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

export class LocalObjectStore implements ObjectStore {
  async get(uri: string): Promise<Uint8Array> {
    try {
      return new Uint8Array(await fsp.readFile(pathOf(uri)));
    } catch (e) {
      fail(uri, 'GET', e);
    }
  }

  async getRange(uri: string, start: number, end: number): Promise<Uint8Array> {
    if (!(start >= 0 && end >= start)) throw new RangeError(`${uri}: invalid byte range ${start}-${end}`);
    let fh: fsp.FileHandle | undefined;
    try {
      fh = await fsp.open(pathOf(uri), 'r');
      const size = (await fh.stat()).size;
      const out = new Uint8Array(Math.max(0, Math.min(end, size) - start));
      let got = 0;
      while (got < out.length) {
        const { bytesRead } = await fh.read(out, got, out.length - got, start + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      return got === out.length ? out : out.subarray(0, got);
    } catch (e) {
      return fail(uri, describeRange(start, end), e);
    } finally {
      await fh?.close();
    }
  }

  async head(uri: string): Promise<ObjectInfo | null> {
    try {
      const s = await fsp.stat(pathOf(uri), { bigint: true });
      return s.isFile() ? infoOf(s) : null;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return null;
      fail(uri, 'HEAD', e);
    }
  }

  async put(uri: string, data: Uint8Array | string, _options?: PutOptions): Promise<PutResult> {
    const w = this.openWriter(uri);
    try {
      await w.write(toBytes(data));
      return await w.close();
    } catch (e) {
      await w.abort();
      fail(uri, 'PUT', e);
    }
  }

  async putStream(uri: string, body: AsyncIterable<Uint8Array | string>, options?: StreamPutOptions): Promise<PutResult> {
    const w = this.openWriter(uri, options);
    try {
      for await (const chunk of body) await w.write(chunk);
      return await w.close();
    } catch (e) {
      await w.abort();
      fail(uri, 'multipart PUT', e);
    }
  }

  openWriter(uri: string, _options?: StreamPutOptions): ObjectWriter {
    const target = pathOf(uri);
    const temp = nodePath.join(nodePath.dirname(target), `${TEMP_MARK}${randomBytes(6).toString('hex')}-${nodePath.basename(target)}`);
    let fh: Promise<fsp.FileHandle> | undefined;
    let size = 0;
    let done = false;
    const open = () =>
      (fh ??= fsp.mkdir(nodePath.dirname(target), { recursive: true }).then(() => fsp.open(temp, 'w')));
    return {
      async write(chunk) {
        if (done) throw new ObjectStoreError(uri, 'PUT', 'WriterClosed', 'write after close or abort', undefined);
        const bytes = toBytes(chunk);
        const h = await open();
        await h.write(bytes);
        size += bytes.length;
      },
      async close() {
        if (done) throw new ObjectStoreError(uri, 'PUT', 'WriterClosed', 'closed twice or after abort', undefined);
        done = true;
        try {
          const h = await open();
          await h.close();
          await fsp.rename(temp, target);
          const s = await fsp.stat(target, { bigint: true });
          return { etag: etagOf(s), size };
        } catch (e) {
          await fsp.rm(temp, { force: true });
          fail(uri, 'PUT', e);
        }
      },
      async abort() {
        if (done) return;
        done = true;
        if (fh) await (await fh.catch(() => undefined))?.close().catch(() => {});
        await fsp.rm(temp, { force: true });
      },
    };
  }

  async list(prefix: string, options: ListOptions = {}): Promise<ListPage> {
    const all = await this.#matching(prefix, options.delimiter);
    const start = options.continuationToken === undefined ? 0 : lowerBound(all, options.continuationToken);
    const max = options.maxKeys ?? 1000;
    const page = all.slice(start, start + max);
    const next = start + max < all.length ? page[page.length - 1]!.uri + '\u0000' : null;
    const entries: ListEntry[] = [];
    const prefixes: string[] = [];
    for (const item of page) {
      if (item.stats) entries.push({ uri: item.uri, ...infoOf(item.stats) });
      else prefixes.push(item.uri);
    }
    return { entries, prefixes, next };
  }

  async *listAll(prefix: string): AsyncIterable<ListEntry> {
    let token: string | undefined;
    do {
      const page = await this.list(prefix, { continuationToken: token });
      yield* page.entries;
      token = page.next ?? undefined;
    } while (token !== undefined);
  }

  /** Files (and, with a delimiter, rolled-up prefixes) whose URI starts with `prefix`, in key order. */
  async #matching(prefix: string, delimiter: string | undefined): Promise<{ uri: string; stats?: fs.BigIntStats }[]> {
    const isFileUri = prefix.startsWith('file://');
    const path = pathOf(prefix);
    const root = path.endsWith('/') ? path.slice(0, -1) || '/' : nodePath.dirname(path);
    const files: { path: string; stats: fs.BigIntStats }[] = [];
    const walk = async (dir: string): Promise<void> => {
      let entries: fs.Dirent[];
      try {
        entries = await fsp.readdir(dir, { withFileTypes: true });
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' || code === 'ENOTDIR') return;
        fail(prefix, 'LIST', e);
      }
      for (const e of entries) {
        const full = dir === '/' ? `/${e.name}` : `${dir}/${e.name}`;
        // Only descend where keys can still start with the prefix.
        if (!(full.startsWith(path) || path.startsWith(full + '/'))) continue;
        if (e.name.startsWith(TEMP_MARK)) continue;
        const s = await fsp.stat(full, { bigint: true }).catch(() => null);
        if (s === null) continue;
        if (s.isDirectory()) await walk(full);
        else if (s.isFile() && full.startsWith(path)) files.push({ path: full, stats: s });
      }
    };
    await walk(root);
    const out: { uri: string; stats?: fs.BigIntStats }[] = [];
    const seen = new Set<string>();
    for (const f of files) {
      const rest = f.path.slice(path.length);
      const cut = delimiter ? rest.indexOf(delimiter) : -1;
      if (cut >= 0) {
        const p = path + rest.slice(0, cut + delimiter!.length);
        if (!seen.has(p)) {
          seen.add(p);
          out.push({ uri: isFileUri ? `file://${p}` : p });
        }
      } else {
        out.push({ uri: isFileUri ? `file://${f.path}` : f.path, stats: f.stats });
      }
    }
    return out.sort((a, b) => compareKeys(a.uri, b.uri));
  }

  async delete(uris: readonly string[]): Promise<void> {
    await Promise.all(
      uris.map(async (uri) => {
        try {
          await fsp.rm(pathOf(uri), { force: true });
        } catch (e) {
          fail(uri, 'DELETE', e);
        }
      }),
    );
  }

  async copy(from: string, to: string): Promise<PutResult> {
    const target = pathOf(to);
    const temp = nodePath.join(nodePath.dirname(target), `${TEMP_MARK}${randomBytes(6).toString('hex')}-${nodePath.basename(target)}`);
    try {
      await fsp.mkdir(nodePath.dirname(target), { recursive: true });
      await fsp.copyFile(pathOf(from), temp);
      await fsp.rename(temp, target);
      const s = await fsp.stat(target, { bigint: true });
      return { etag: etagOf(s), size: Number(s.size) };
    } catch (e) {
      await fsp.rm(temp, { force: true });
      fail(`${from} → ${to}`, 'COPY', e);
    }
  }
}

function lowerBound(items: readonly { uri: string }[], key: string): number {
  let lo = 0;
  let hi = items.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (compareKeys(items[mid]!.uri, key) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
