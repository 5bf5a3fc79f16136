// The object-store contract executors, shuffle and the coordinator build on: whole and ranged reads, head,
// atomic puts (single or multipart), prefix listings and batch deletes over `s3://bucket/key` URIs and local
// paths. Objects are immutable blobs: a put replaces the whole object and readers never see a partial one.
import { SquallError } from '../../types/errors.ts';

export interface ObjectInfo {
  readonly size: number;
  /** Changes whenever the object's content is replaced (S3's ETag; a stat-derived tag for local files). */
  readonly etag: string;
  readonly lastModified: Date;
}

export interface ListEntry extends ObjectInfo {
  readonly uri: string;
}

export interface ListOptions {
  /** With '/', keys below the next '/' after the prefix are rolled up into `prefixes` (S3's CommonPrefixes). */
  readonly delimiter?: string;
  /** At most this many entries plus prefixes in one page (S3's limit is 1,000). */
  readonly maxKeys?: number;
  /** The `next` of the previous page. */
  readonly continuationToken?: string;
}

export interface ListPage {
  /** Sorted by URI (S3's order: UTF-8 bytes of the key). */
  readonly entries: readonly ListEntry[];
  readonly prefixes: readonly string[];
  /** Pass as `continuationToken` for the next page; null after the last page. */
  readonly next: string | null;
}

export interface PutOptions {
  readonly contentType?: string;
}

export interface StreamPutOptions extends PutOptions {
  /** Bytes per part of a multipart upload (S3 needs at least 5 MiB for all parts but the last). */
  readonly partSize?: number;
  /** Parts uploaded in parallel. */
  readonly concurrency?: number;
}

export interface PutResult {
  readonly etag: string;
  readonly size: number;
}

/** A sink for a large object: the object appears (atomically, whole) at `close`, never if `abort` is called. */
export interface ObjectWriter {
  write(chunk: Uint8Array | string): Promise<void>;
  close(): Promise<PutResult>;
  abort(): Promise<void>;
}

export interface ObjectStore {
  /** The whole object. Throws ObjectStoreError with code 'NoSuchKey' when it does not exist. */
  get(uri: string): Promise<Uint8Array>;
  /** Bytes [start, end) of an object, cut short at its end (empty when start is at or past the end). */
  getRange(uri: string, start: number, end: number): Promise<Uint8Array>;
  /** Size and ETag, or null when the object does not exist. */
  head(uri: string): Promise<ObjectInfo | null>;
  put(uri: string, data: Uint8Array | string, options?: PutOptions): Promise<PutResult>;
  /** Streams `body` into one object (a multipart upload on S3 when it is larger than one part). */
  putStream(uri: string, body: AsyncIterable<Uint8Array | string>, options?: StreamPutOptions): Promise<PutResult>;
  openWriter(uri: string, options?: StreamPutOptions): ObjectWriter;
  /** One page of the objects whose URI starts with `prefix` (a string prefix, not a folder). */
  list(prefix: string, options?: ListOptions): Promise<ListPage>;
  /** Every object under `prefix`, page by page. */
  listAll(prefix: string): AsyncIterable<ListEntry>;
  /** Deletes the objects; missing ones are not an error. */
  delete(uris: readonly string[]): Promise<void>;
  copy(from: string, to: string): Promise<PutResult>;
}

export type ObjectOperation = 'GET' | 'GET range' | 'HEAD' | 'PUT' | 'multipart PUT' | 'LIST' | 'DELETE' | 'COPY';

/**
 * A failed object-store call, naming the object and the operation:
 * `s3://b/k: GET range 100-200 failed: NoSuchKey`.
 */
export class ObjectStoreError extends SquallError {
  constructor(
    readonly uri: string,
    readonly operation: string,
    /** S3's error code ('NoSuchKey', 'SlowDown', 'AccessDenied'…) or a Node error code for local files. */
    readonly code: string,
    detail: string | undefined,
    readonly status: number | undefined,
    options?: { cause?: unknown },
  ) {
    super(`${uri}: ${operation} failed: ${code}${detail && detail !== code ? ` (${detail})` : ''}`, options);
  }

  get notFound(): boolean {
    return this.code === 'NoSuchKey' || this.code === 'NoSuchBucket' || this.code === 'NotFound';
  }
}

export type ParsedUri =
  | { readonly scheme: 's3'; readonly bucket: string; readonly key: string }
  | { readonly scheme: 'file'; readonly path: string };

/** `s3://bucket/key`, `file:///abs/path` or a plain local path. */
export function parseObjectUri(uri: string): ParsedUri {
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]+):\/\//.exec(uri)?.[1]?.toLowerCase();
  if (scheme === undefined) return { scheme: 'file', path: uri };
  if (scheme === 'file') return { scheme: 'file', path: uri.slice('file://'.length) };
  if (scheme === 's3' || scheme === 's3a') {
    const rest = uri.slice(scheme.length + 3);
    const slash = rest.indexOf('/');
    const bucket = slash < 0 ? rest : rest.slice(0, slash);
    if (bucket === '') throw new ObjectStoreError(uri, 'parse', 'InvalidURI', 'no bucket name', undefined);
    return { scheme: 's3', bucket, key: slash < 0 ? '' : rest.slice(slash + 1) };
  }
  throw new ObjectStoreError(uri, 'parse', 'InvalidURI', `unsupported scheme '${scheme}://'; use s3:// or a local path`, undefined);
}

export function s3Uri(bucket: string, key: string): string {
  return `s3://${bucket}/${key}`;
}

/** How errors name a ranged read of bytes [start, end). */
export function describeRange(start: number, end: number): string {
  return `GET range ${start}-${end}`;
}

export function toBytes(data: Uint8Array | string): Uint8Array {
  return typeof data === 'string' ? new TextEncoder().encode(data) : data;
}
