// The FileStore over an object store for `s3://bucket/key` URIs. S3 has no directories: a "directory" is a key
// prefix ending in '/', listed with the '/' delimiter; `stat` heads the object and, when there is none, looks
// for anything below `key/`. There is no rename either: writers to s3:// use the manifest commit in writers.ts,
// and `rename` here (copy, then delete) exists only for completeness and is not atomic.
import { DataError } from '../types/errors.ts';
import type { DirEntry, FileInfo, FileStore, FileWriter, ReadRange } from './file-store.ts';
// Not './object-store.ts': that loads the AWS SDK, which only a store made from the environment needs (lazily).
import { type ObjectStore, ObjectStoreError, parseObjectUri, s3Uri } from './object-store/object-store.ts';
import { readRanges } from './object-store/ranged-reads.ts';

/** Ranged reads of remote Parquet: requests of up to 16 MB, ranges within 1 MB joined, 4 requests in flight. */
export const S3_RANGE_READ = { gapBytes: 1 << 20, requestBytes: 16 << 20, concurrency: 4 } as const;

/** Bytes per ranged GET when streaming a whole object (CSV, NDJSON). */
const STREAM_CHUNK = 8 << 20;

function split(uri: string): { bucket: string; key: string } {
  const p = parseObjectUri(uri);
  if (p.scheme !== 's3') throw new DataError(`'${uri}' is not an s3:// URI`);
  return { bucket: p.bucket, key: p.key.replace(/\/+$/, '') };
}

function notFound(e: unknown): boolean {
  return e instanceof ObjectStoreError && e.notFound;
}

export class S3FileStore implements FileStore {
  readonly remote = true;
  #objects: ObjectStore | undefined;
  #make: (() => Promise<ObjectStore>) | undefined;
  #making: Promise<ObjectStore> | undefined;

  /** Over `objects`, or over the store `objects()` makes on first use. */
  constructor(objects: ObjectStore | (() => Promise<ObjectStore>)) {
    if (typeof objects === 'function') this.#make = objects;
    else this.#objects = objects;
  }

  /** The object store, once made (undefined before a lazily made one is first used). */
  get made(): ObjectStore | undefined {
    return this.#objects;
  }

  private async store(): Promise<ObjectStore> {
    if (this.#objects) return this.#objects;
    this.#making ??= this.#make!().then((o) => (this.#objects = o));
    return this.#making;
  }

  async stat(path: string): Promise<FileInfo | null> {
    const { bucket, key } = split(path);
    if (key !== '') {
      const info = await (await this.store()).head(s3Uri(bucket, key));
      if (info) return { kind: 'file', size: info.size, etag: info.etag };
    }
    // A "directory": any object below `key/` (a bucket root is one when the bucket has any object).
    const page = await (await this.store()).list(s3Uri(bucket, key === '' ? '' : key + '/'), { maxKeys: 1 });
    return page.entries.length > 0 || page.prefixes.length > 0 ? { kind: 'dir', size: 0 } : null;
  }

  async list(dir: string): Promise<DirEntry[]> {
    const { bucket, key } = split(dir);
    const prefix = key === '' ? '' : key + '/';
    const out: DirEntry[] = [];
    let token: string | undefined;
    do {
      const page = await (await this.store()).list(s3Uri(bucket, prefix), { delimiter: '/', ...(token ? { continuationToken: token } : {}) });
      const base = s3Uri(bucket, prefix).length;
      for (const e of page.entries) {
        const name = e.uri.slice(base);
        if (name !== '') out.push({ name, kind: 'file' }); // '' is a folder marker object (`key/`)
      }
      for (const p of page.prefixes) out.push({ name: p.slice(base).replace(/\/$/, ''), kind: 'dir' });
      token = page.next ?? undefined;
    } while (token !== undefined);
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async readRange(path: string, start: number, end: number): Promise<Uint8Array> {
    try {
      return await (await this.store()).getRange(this.norm(path), start, end);
    } catch (e) {
      if (notFound(e)) throw new DataError(`file '${path}' does not exist`, { cause: e });
      throw e;
    }
  }

  async readRanges(path: string, ranges: readonly ReadRange[]): Promise<Uint8Array[]> {
    try {
      return await readRanges(await this.store(), this.norm(path), ranges, S3_RANGE_READ);
    } catch (e) {
      if (notFound(e)) throw new DataError(`file '${path}' does not exist`, { cause: e });
      throw e;
    }
  }

  /** The whole object in memory (only parquet-wasm's fallback path needs a Blob). */
  async openBlob(path: string): Promise<Blob> {
    try {
      return new Blob([(await (await this.store()).get(this.norm(path))) as Uint8Array<ArrayBuffer>]);
    } catch (e) {
      if (notFound(e)) throw Object.assign(new DataError(`file '${path}' does not exist`, { cause: e }), { code: 'ENOENT' });
      throw e;
    }
  }

  /** Sequential ranged GETs of `chunkSize` bytes, the next one requested while the caller handles the current. */
  async *readChunks(path: string, chunkSize = STREAM_CHUNK): AsyncIterable<Uint8Array> {
    const info = await this.stat(path);
    if (!info || info.kind !== 'file') throw new DataError(`file '${path}' does not exist`);
    const step = Math.max(1, chunkSize);
    let next: Promise<Uint8Array> | null = null;
    const fetch = (start: number) => {
      const p = this.readRange(path, start, Math.min(info.size, start + step));
      p.catch(() => {}); // awaited below; only keeps an abandoned prefetch from being "unhandled"
      return p;
    };
    for (let start = 0; start < info.size; start += step) {
      const current: Promise<Uint8Array> = next ?? fetch(start);
      next = start + step < info.size ? fetch(start + step) : null;
      const bytes = await current;
      if (bytes.length !== Math.min(step, info.size - start)) throw new DataError(`file '${path}' changed while it was read`);
      yield bytes;
    }
  }

  async writeFile(path: string, data: Uint8Array | string): Promise<void> {
    await (await this.store()).put(this.norm(path), data);
  }

  async openWriter(path: string): Promise<FileWriter> {
    const w = (await this.store()).openWriter(this.norm(path));
    return {
      write: (chunk) => w.write(chunk),
      close: async () => {
        await w.close();
      },
      abort: () => w.abort(),
    };
  }

  /** Directories need not be created on S3. */
  async mkdir(): Promise<void> {}

  async copy(from: string, to: string): Promise<void> {
    await (await this.store()).copy(this.norm(from), this.norm(to));
  }

  /** Copy then delete, object by object: NOT atomic (writers.ts commits to S3 without renames). */
  async rename(from: string, to: string): Promise<void> {
    const info = await this.stat(from);
    if (!info) throw new DataError(`cannot rename '${from}': it does not exist`);
    if (info.kind === 'file') {
      await (await this.store()).copy(this.norm(from), this.norm(to));
      await (await this.store()).delete([this.norm(from)]);
      return;
    }
    const src = this.norm(from) + '/';
    const dst = this.norm(to) + '/';
    const moved: string[] = [];
    for await (const e of (await this.store()).listAll(src)) {
      await (await this.store()).copy(e.uri, dst + e.uri.slice(src.length));
      moved.push(e.uri);
    }
    await (await this.store()).delete(moved);
  }

  async remove(path: string): Promise<void> {
    const uri = this.norm(path);
    const { key } = split(uri);
    const doomed: string[] = key === '' ? [] : [uri];
    for await (const e of (await this.store()).listAll(key === '' ? uri : uri + '/')) doomed.push(e.uri);
    await (await this.store()).delete(doomed);
  }

  join(...parts: string[]): string {
    let out = '';
    for (const p of parts) {
      if (p === '') continue;
      if (/^[a-zA-Z][a-zA-Z0-9+.-]+:\/\//.test(p) || out === '') out = p.replace(/\/+$/, '');
      else out = out + '/' + p.replace(/^\/+/, '').replace(/\/+$/, '');
    }
    return out;
  }

  dirname(path: string): string {
    const { bucket, key } = split(path);
    const slash = key.lastIndexOf('/');
    return s3Uri(bucket, slash < 0 ? '' : key.slice(0, slash)).replace(/\/$/, '');
  }

  basename(path: string): string {
    const { key } = split(path);
    return key.slice(key.lastIndexOf('/') + 1);
  }

  /** `s3a://` is read as `s3://`; trailing slashes dropped. */
  private norm(path: string): string {
    const { bucket, key } = split(path);
    return s3Uri(bucket, key);
  }
}

// ---- the registry: which object store s3:// paths use --------------------------------------------------

let registered: { objects: ObjectStore; files: S3FileStore } | null = null;
/** Made from the environment on first use (`S3ObjectStore.fromEnv()`, loading the AWS SDK then). */
let fromEnv: S3FileStore | null = null;

/**
 * Makes s3:// paths use `store` (for example `S3ObjectStore.fromEndpoints(stack.endpoints())` in tests and
 * sessions pointed at a local stack); null goes back to `S3ObjectStore.fromEnv()`. Returns the previous store.
 */
export function setS3Store(store: ObjectStore | null): ObjectStore | null {
  const previous = registered?.objects ?? null;
  registered = store ? { objects: store, files: new S3FileStore(store) } : null;
  return previous;
}

/**
 * Whether s3:// paths go to a store registered with setS3Store, which exists on this thread only: other threads
 * configure theirs from the environment, so work reading s3:// stays on this thread while one is registered.
 */
export function s3StoreRegistered(): boolean {
  return registered !== null;
}

/** The FileStore for s3:// paths: the registered store, else one configured from the environment. */
export function s3FileStore(): S3FileStore {
  if (registered) return registered.files;
  fromEnv ??= new S3FileStore(async () => (await import('./object-store/s3-object-store.ts')).S3ObjectStore.fromEnv());
  return fromEnv;
}
