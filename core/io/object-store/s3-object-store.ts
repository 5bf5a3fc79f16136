// The object store on Amazon S3 (or an S3-compatible server such as the local stack's s3rver) through
// @aws-sdk/client-s3. Every operation is retried as a whole (body read included) on throttling, 5xx and network
// errors with bounded exponential backoff, and fails with an error naming the object and the operation.
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
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
  s3Uri,
  toBytes,
} from './object-store.ts';
import { type RetryPolicy, DEFAULT_RETRY_POLICY, httpStatusOf, withRetries } from './retry.ts';
import { type AwsEndpoints, type ClientTuning, endpointsFromEnv, s3ClientConfig } from './aws-config.ts';

export const DEFAULT_PART_SIZE = 8 << 20;
const MIN_PART_SIZE = 5 << 20;

export interface S3ObjectStoreOptions {
  readonly client: S3Client;
  readonly retry?: RetryPolicy;
  /** Multipart part size for streamed puts. */
  readonly partSize?: number;
  /** Parts in flight per streamed put. */
  readonly uploadConcurrency?: number;
}

/** Counters of what the store asked S3 for (per store; request counts include retried attempts). */
export interface S3StoreStats {
  requests: number;
  retries: number;
  bytesRead: number;
  bytesWritten: number;
}

interface Located {
  readonly bucket: string;
  readonly key: string;
}

function locate(uri: string): Located {
  const p = parseObjectUri(uri);
  if (p.scheme !== 's3') throw new ObjectStoreError(uri, 'parse', 'InvalidURI', 'not an s3:// URI', undefined);
  return p;
}

function codeOf(e: unknown): string {
  const err = e as { name?: string; Code?: string; code?: string };
  return err.Code ?? (err.name && err.name !== 'Error' ? err.name : undefined) ?? err.code ?? 'Error';
}

async function readBody(body: unknown, expected: number | undefined): Promise<Uint8Array> {
  if (body === undefined || body === null) return new Uint8Array(0);
  const stream = body as AsyncIterable<Uint8Array>;
  if (expected !== undefined && expected >= 0) {
    const out = new Uint8Array(expected);
    let at = 0;
    for await (const chunk of stream) {
      if (at + chunk.length > out.length) throw Object.assign(new Error('body longer than Content-Length'), { code: 'ECONNRESET' });
      out.set(chunk, at);
      at += chunk.length;
    }
    // A short body means the connection dropped mid-transfer: retryable like a reset.
    if (at !== expected) throw Object.assign(new Error(`body ended after ${at} of ${expected} bytes`), { code: 'ECONNRESET' });
    return out;
  }
  const parts: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of stream) {
    parts.push(chunk);
    total += chunk.length;
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export class S3ObjectStore implements ObjectStore {
  readonly client: S3Client;
  readonly stats: S3StoreStats = { requests: 0, retries: 0, bytesRead: 0, bytesWritten: 0 };
  readonly #retry: RetryPolicy;
  readonly #partSize: number;
  readonly #uploadConcurrency: number;

  constructor(options: S3ObjectStoreOptions) {
    this.client = options.client;
    this.#retry = options.retry ?? DEFAULT_RETRY_POLICY;
    this.#partSize = Math.max(MIN_PART_SIZE, options.partSize ?? DEFAULT_PART_SIZE);
    this.#uploadConcurrency = Math.max(1, options.uploadConcurrency ?? 4);
  }

  static fromEndpoints(e: AwsEndpoints, options: Omit<S3ObjectStoreOptions, 'client'> & { tuning?: ClientTuning } = {}): S3ObjectStore {
    return new S3ObjectStore({ ...options, client: new S3Client(s3ClientConfig(e, options.tuning)) });
  }

  /** A store configured from `SQUALL_S3_ENDPOINT`, `AWS_REGION` and the AWS credential variables. */
  static fromEnv(env: NodeJS.ProcessEnv = process.env, options: Omit<S3ObjectStoreOptions, 'client'> = {}): S3ObjectStore {
    return S3ObjectStore.fromEndpoints(endpointsFromEnv(env), options);
  }

  /** Closes the client's sockets. */
  destroy(): void {
    this.client.destroy();
  }

  /** One operation with retries; errors become ObjectStoreErrors naming `uri` and `operation`. */
  async #call<T>(uri: string, operation: string, fn: () => Promise<T>, onMissing?: () => T): Promise<T> {
    try {
      return await withRetries(
        this.#retry,
        () => {
          this.stats.requests++;
          return fn();
        },
        () => {
          this.stats.retries++;
        },
      );
    } catch (e) {
      if (e instanceof ObjectStoreError) throw e;
      const status = httpStatusOf(e);
      const code = codeOf(e);
      if (onMissing && (status === 404 || code === 'NoSuchKey' || code === 'NotFound')) return onMissing();
      throw new ObjectStoreError(uri, operation, code, (e as Error).message, status, { cause: e });
    }
  }

  async get(uri: string): Promise<Uint8Array> {
    const { bucket, key } = locate(uri);
    return this.#call(uri, 'GET', async () => {
      const out = await this.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      const bytes = await readBody(out.Body, out.ContentLength);
      this.stats.bytesRead += bytes.length;
      return bytes;
    });
  }

  async getRange(uri: string, start: number, end: number): Promise<Uint8Array> {
    if (!(Number.isInteger(start) && Number.isInteger(end) && start >= 0 && end >= start)) {
      throw new RangeError(`${uri}: invalid byte range ${start}-${end}`);
    }
    if (end === start) return new Uint8Array(0);
    const { bucket, key } = locate(uri);
    // Always an explicit first-last range: s3rver answers suffix ranges (bytes=-N) wrongly.
    return this.#call(uri, describeRange(start, end), async () => {
      let out;
      try {
        out = await this.client.send(new GetObjectCommand({ Bucket: bucket, Key: key, Range: `bytes=${start}-${end - 1}` }));
      } catch (e) {
        if (httpStatusOf(e) === 416 || codeOf(e) === 'InvalidRange') return new Uint8Array(0);
        throw e;
      }
      const bytes = await readBody(out.Body, out.ContentLength);
      this.stats.bytesRead += bytes.length;
      // s3rver treats `bytes=0-0` as the whole object; never hand out more than asked.
      return bytes.length > end - start ? bytes.subarray(0, end - start) : bytes;
    });
  }

  async head(uri: string): Promise<ObjectInfo | null> {
    const { bucket, key } = locate(uri);
    return this.#call<ObjectInfo | null>(
      uri,
      'HEAD',
      async () => {
        const out = await this.client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
        return { size: out.ContentLength ?? 0, etag: out.ETag ?? '', lastModified: out.LastModified ?? new Date(0) };
      },
      () => null,
    );
  }

  async put(uri: string, data: Uint8Array | string, options: PutOptions = {}): Promise<PutResult> {
    const { bucket, key } = locate(uri);
    const body = toBytes(data);
    return this.#call(uri, 'PUT', async () => {
      const out = await this.client.send(
        new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentLength: body.length, ContentType: options.contentType }),
      );
      this.stats.bytesWritten += body.length;
      return { etag: out.ETag ?? '', size: body.length };
    });
  }

  async putStream(uri: string, body: AsyncIterable<Uint8Array | string>, options?: StreamPutOptions): Promise<PutResult> {
    const w = this.openWriter(uri, options);
    try {
      for await (const chunk of body) await w.write(chunk);
    } catch (e) {
      await w.abort();
      throw e;
    }
    return w.close();
  }

  /**
   * Buffers up to one part; the first full part starts a multipart upload, and up to `concurrency` parts upload
   * while the caller keeps writing. An object smaller than one part is a single PUT. Parts are sent as buffers
   * with a known length, never as streams, so no chunked encoding is involved.
   */
  openWriter(uri: string, options: StreamPutOptions = {}): ObjectWriter {
    const { bucket, key } = locate(uri);
    const partSize = Math.max(MIN_PART_SIZE, options.partSize ?? this.#partSize);
    const concurrency = Math.max(1, options.concurrency ?? this.#uploadConcurrency);
    let buffer = new Uint8Array(partSize);
    let filled = 0;
    let size = 0;
    let uploadId: string | undefined;
    let nextPart = 1;
    const parts: { PartNumber: number; ETag: string }[] = [];
    const inFlight = new Set<Promise<void>>();
    let failure: unknown;
    let state: 'open' | 'closed' | 'aborted' = 'open';

    const uploadPart = (bytes: Uint8Array, partNumber: number): Promise<void> => {
      const p = this.#call(uri, `multipart PUT part ${partNumber}`, async () => {
        const out = await this.client.send(
          new UploadPartCommand({ Bucket: bucket, Key: key, UploadId: uploadId, PartNumber: partNumber, Body: bytes, ContentLength: bytes.length }),
        );
        this.stats.bytesWritten += bytes.length;
        parts.push({ PartNumber: partNumber, ETag: out.ETag ?? '' });
      }).then(
        () => {
          inFlight.delete(p);
        },
        (e) => {
          inFlight.delete(p);
          failure ??= e;
        },
      );
      inFlight.add(p);
      return p;
    };

    const flushPart = async () => {
      if (uploadId === undefined) {
        uploadId = await this.#call(uri, 'multipart PUT start', async () => {
          const out = await this.client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, ContentType: options.contentType }));
          if (!out.UploadId) throw new ObjectStoreError(uri, 'multipart PUT start', 'NoUploadId', 'no UploadId returned', undefined);
          return out.UploadId;
        });
      }
      while (inFlight.size >= concurrency) await Promise.race(inFlight);
      if (failure) throw failure;
      void uploadPart(buffer.subarray(0, filled), nextPart++);
      buffer = new Uint8Array(partSize);
      filled = 0;
    };

    const abortUpload = async () => {
      await Promise.allSettled(inFlight);
      if (uploadId !== undefined) {
        const id = uploadId;
        await this.#call(uri, 'multipart PUT abort', () =>
          this.client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: id })),
        ).catch(() => {});
      }
    };

    return {
      write: async (chunk) => {
        if (state !== 'open') throw new ObjectStoreError(uri, 'multipart PUT', 'WriterClosed', 'write after close or abort', undefined);
        if (failure) throw failure;
        let bytes = toBytes(chunk);
        size += bytes.length;
        while (bytes.length > 0) {
          const n = Math.min(bytes.length, partSize - filled);
          buffer.set(bytes.subarray(0, n), filled);
          filled += n;
          bytes = bytes.subarray(n);
          if (filled === partSize) await flushPart();
        }
      },
      close: async () => {
        if (state !== 'open') throw new ObjectStoreError(uri, 'multipart PUT', 'WriterClosed', 'closed twice or after abort', undefined);
        state = 'closed';
        try {
          if (uploadId === undefined) return await this.put(uri, buffer.subarray(0, filled), options);
          if (filled > 0) await flushPart();
          await Promise.all(inFlight);
          if (failure) throw failure;
          const id = uploadId;
          const sorted = [...parts].sort((a, b) => a.PartNumber - b.PartNumber);
          const out = await this.#call(uri, 'multipart PUT complete', () =>
            this.client.send(
              new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: id, MultipartUpload: { Parts: sorted } }),
            ),
          );
          return { etag: out.ETag ?? '', size };
        } catch (e) {
          await abortUpload();
          throw e;
        }
      },
      abort: async () => {
        if (state !== 'open') return;
        state = 'aborted';
        await abortUpload();
      },
    };
  }

  /**
   * ListObjects (version 1) with markers rather than ListObjectsV2: s3rver builds V2 continuation tokens with
   * DES, which OpenSSL 3 (Node 18+) refuses, so V2 pagination fails there; V1 works on S3 and s3rver alike.
   */
  async list(prefix: string, options: ListOptions = {}): Promise<ListPage> {
    const { bucket, key } = locate(prefix);
    return this.#call(prefix, 'LIST', async () => {
      const out = await this.client.send(
        new ListObjectsCommand({
          Bucket: bucket,
          Prefix: key,
          Delimiter: options.delimiter,
          MaxKeys: options.maxKeys,
          Marker: options.continuationToken,
        }),
      );
      const contents = out.Contents ?? [];
      const entries: ListEntry[] = contents.map((o) => ({
        uri: s3Uri(bucket, o.Key ?? ''),
        size: o.Size ?? 0,
        etag: o.ETag ?? '',
        lastModified: o.LastModified ?? new Date(0),
      }));
      const commonPrefixes = (out.CommonPrefixes ?? []).map((p) => p.Prefix ?? '');
      let next: string | null = null;
      if (out.IsTruncated) {
        const lastKey = contents[contents.length - 1]?.Key ?? '';
        const lastPrefix = commonPrefixes[commonPrefixes.length - 1] ?? '';
        // Past a rolled-up prefix, the next page starts after every key below it.
        next = out.NextMarker ?? (lastPrefix > lastKey ? lastPrefix + '\uffff' : lastKey);
      }
      return { entries, prefixes: commonPrefixes.map((p) => s3Uri(bucket, p)), next };
    });
  }

  async *listAll(prefix: string): AsyncIterable<ListEntry> {
    let token: string | undefined;
    do {
      const page = await this.list(prefix, { continuationToken: token });
      yield* page.entries;
      token = page.next ?? undefined;
    } while (token !== undefined);
  }

  async delete(uris: readonly string[]): Promise<void> {
    const byBucket = new Map<string, string[]>();
    for (const uri of uris) {
      const { bucket, key } = locate(uri);
      (byBucket.get(bucket) ?? byBucket.set(bucket, []).get(bucket)!).push(key);
    }
    const batches: { bucket: string; keys: string[] }[] = [];
    for (const [bucket, keys] of byBucket) {
      for (let i = 0; i < keys.length; i += 1000) batches.push({ bucket, keys: keys.slice(i, i + 1000) });
    }
    await Promise.all(
      batches.map(({ bucket, keys }) => {
        const label = keys.length === 1 ? s3Uri(bucket, keys[0]!) : `${s3Uri(bucket, keys[0]!)} (+${keys.length - 1} more)`;
        return this.#call(label, 'DELETE', async () => {
          // One key: a plain DELETE (s3rver emits ObjectRemoved events for these, not for batch deletes).
          if (keys.length === 1) {
            await this.client.send(new DeleteObjectCommand({ Bucket: bucket, Key: keys[0] }));
            return;
          }
          const out = await this.client.send(
            new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys.map((Key) => ({ Key })), Quiet: true } }),
          );
          const err = out.Errors?.find((e) => e.Code !== 'NoSuchKey');
          if (err) throw new ObjectStoreError(s3Uri(bucket, err.Key ?? ''), 'DELETE', err.Code ?? 'Error', err.Message, undefined);
        });
      }),
    );
  }

  async copy(from: string, to: string): Promise<PutResult> {
    const src = locate(from);
    const dst = locate(to);
    return this.#call(`${from} → ${to}`, 'COPY', async () => {
      const out = await this.client.send(
        new CopyObjectCommand({
          Bucket: dst.bucket,
          Key: dst.key,
          CopySource: `${src.bucket}/${encodeURIComponent(src.key).replace(/%2F/g, '/')}`,
        }),
      );
      const head = await this.head(to);
      return { etag: out.CopyObjectResult?.ETag ?? head?.etag ?? '', size: head?.size ?? 0 };
    });
  }
}
