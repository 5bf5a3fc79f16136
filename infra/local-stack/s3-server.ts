// s3rver behind the project's own HTTP server on 127.0.0.1: the project's buckets, data in a temporary folder,
// S3-style object events as a subscription, per-operation request counts (shuffle benchmarks count requests
// here, at the server), and injected faults (503 SlowDown and the like) for the retry tests.
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import * as fsp from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import S3rver from 's3rver';
import { makeS3rverPutsAtomic } from './s3rver-atomic.ts';

/** s3rver's only account; it checks SigV4 signatures against it. */
export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

/** One record of an S3 event notification, as AWS delivers it (keys URL-encoded, spaces as '+'). */
export interface S3EventRecord {
  readonly eventVersion: string;
  readonly eventSource: 'aws:s3';
  readonly awsRegion: string;
  readonly eventTime: string;
  /** 'ObjectCreated:Put', 'ObjectCreated:Post' (multipart complete), 'ObjectCreated:Copy', 'ObjectRemoved:Delete'. */
  readonly eventName: string;
  readonly s3: {
    readonly bucket: { readonly name: string; readonly arn: string };
    readonly object: { readonly key: string; readonly size?: number; readonly eTag?: string; readonly sequencer: string };
  };
}

export interface S3EventFilter {
  readonly bucket?: string;
  /** Matched against the decoded key. */
  readonly prefix?: string;
  readonly suffix?: string;
  /** Event names or wildcards ('ObjectCreated:*'); default all. */
  readonly events?: readonly string[];
}

export type S3Operation =
  | 'GetObject'
  | 'HeadObject'
  | 'PutObject'
  | 'CopyObject'
  | 'DeleteObject'
  | 'DeleteObjects'
  | 'ListObjects'
  | 'CreateMultipartUpload'
  | 'UploadPart'
  | 'CompleteMultipartUpload'
  | 'AbortMultipartUpload'
  | 'Bucket'
  | 'Other';

export interface S3RequestInfo {
  readonly operation: S3Operation;
  readonly method: string;
  readonly bucket: string;
  readonly key: string;
  /** The Range header, if any. */
  readonly range?: string;
}

export interface S3Fault {
  /** HTTP status to answer with (503 for SlowDown). */
  readonly status: number;
  /** S3 error code in the XML body ('SlowDown', 'InternalError'…). */
  readonly code: string;
  /** How many matching requests fail; afterwards requests pass. */
  readonly times: number;
  readonly match?: (req: S3RequestInfo) => boolean;
}

export interface S3ServerOptions {
  /** Where objects are stored; a fresh temporary folder (removed at stop) by default. */
  readonly directory?: string;
  readonly buckets?: readonly string[];
  readonly port?: number;
  readonly region?: string;
  /** s3rver's own request log on the console. */
  readonly verbose?: boolean;
}

/** Decodes a key from an event record (AWS form-encodes keys in notifications). */
export function decodeS3EventKey(key: string): string {
  return decodeURIComponent(key.replace(/\+/g, ' '));
}

function encodeEventKey(key: string): string {
  return encodeURIComponent(key).replace(/%2F/g, '/').replace(/%20/g, '+');
}

function classify(method: string, url: URL): S3RequestInfo {
  const [, bucket = '', ...rest] = url.pathname.split('/');
  const key = decodeURIComponent(rest.join('/'));
  const q = url.searchParams;
  let operation: S3Operation = 'Other';
  if (key === '') {
    if (method === 'GET' && bucket !== '') operation = 'ListObjects';
    else if (method === 'POST' && q.has('delete')) operation = 'DeleteObjects';
    else operation = 'Bucket';
  } else if (method === 'GET') operation = 'GetObject';
  else if (method === 'HEAD') operation = 'HeadObject';
  else if (method === 'PUT') operation = q.has('partNumber') ? 'UploadPart' : 'PutObject';
  else if (method === 'POST') operation = q.has('uploads') ? 'CreateMultipartUpload' : q.has('uploadId') ? 'CompleteMultipartUpload' : 'Other';
  else if (method === 'DELETE') operation = q.has('uploadId') ? 'AbortMultipartUpload' : 'DeleteObject';
  return { operation, method, bucket: decodeURIComponent(bucket), key };
}

function eventMatches(filter: S3EventFilter, record: S3EventRecord): boolean {
  if (filter.bucket !== undefined && filter.bucket !== record.s3.bucket.name) return false;
  const key = decodeS3EventKey(record.s3.object.key);
  if (filter.prefix !== undefined && !key.startsWith(filter.prefix)) return false;
  if (filter.suffix !== undefined && !key.endsWith(filter.suffix)) return false;
  if (filter.events && !filter.events.some((e) => (e.endsWith('*') ? record.eventName.startsWith(e.slice(0, -1)) : e === record.eventName))) {
    return false;
  }
  return true;
}

export class LocalS3Server {
  /** Requests served, by operation (copies count under PutObject unless they carry x-amz-copy-source). */
  readonly counts = new Map<S3Operation, number>();
  readonly #listeners = new Set<{ filter: S3EventFilter; fn: (r: S3EventRecord) => void }>();
  readonly #requestListeners = new Set<(r: S3RequestInfo) => void>();
  readonly #faults: { fault: S3Fault; left: number }[] = [];

  private constructor(
    readonly endpoint: string,
    readonly directory: string,
    readonly buckets: readonly string[],
    private readonly server: http.Server,
    private readonly s3rver: S3rver,
    private readonly ownsDirectory: boolean,
  ) {}

  static async start(options: S3ServerOptions = {}): Promise<LocalS3Server> {
    const ownsDirectory = options.directory === undefined;
    const directory = options.directory ?? (await fsp.mkdtemp(path.join(os.tmpdir(), 'squall-s3-')));
    const buckets = options.buckets ?? [];
    makeS3rverPutsAtomic();
    const s3rver = new S3rver({
      directory,
      silent: !options.verbose,
      configureBuckets: buckets.map((name) => ({ name })),
      vhostBuckets: false,
    });
    await s3rver.configureBuckets();
    const region = options.region ?? 'us-east-1';
    let self: LocalS3Server | undefined;
    const app = s3rver.callback();
    const server = http.createServer((req, res) => {
      if (self) self.#handle(req, res, app);
      else app(req, res);
    });
    server.keepAliveTimeout = 30_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    self = new LocalS3Server(`http://127.0.0.1:${port}`, directory, buckets, server, s3rver, ownsDirectory);
    s3rver.on('event', (event: { Records: S3EventRecord[] }) => self!.#emit(event, region));
    return self;
  }

  #handle(req: http.IncomingMessage, res: http.ServerResponse, app: (req: http.IncomingMessage, res: http.ServerResponse) => void): void {
    const info0 = classify(req.method ?? 'GET', new URL(req.url ?? '/', 'http://localhost'));
    const info: S3RequestInfo = {
      ...info0,
      operation: info0.operation === 'PutObject' && req.headers['x-amz-copy-source'] ? 'CopyObject' : info0.operation,
      ...(typeof req.headers.range === 'string' ? { range: req.headers.range } : {}),
    };
    this.counts.set(info.operation, (this.counts.get(info.operation) ?? 0) + 1);
    for (const l of this.#requestListeners) l(info);
    const fault = this.#faults.find((f) => f.left > 0 && (f.fault.match?.(info) ?? true));
    if (fault) {
      fault.left--;
      // Read the body first so the connection stays usable for the client's next attempt.
      req.resume();
      req.on('end', () => {
        const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${fault.fault.code}</Code><Message>injected fault</Message></Error>`;
        res.writeHead(fault.fault.status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) });
        res.end(body);
      });
      return;
    }
    app(req, res);
  }

  #emit(event: { Records: S3EventRecord[] }, region: string): void {
    for (const raw of event.Records) {
      const record: S3EventRecord = {
        ...raw,
        awsRegion: region,
        s3: { ...raw.s3, object: { ...raw.s3.object, key: encodeEventKey(raw.s3.object.key) } },
      };
      for (const l of this.#listeners) {
        if (!eventMatches(l.filter, record)) continue;
        try {
          l.fn(record);
        } catch (e) {
          console.error('S3 event listener failed:', e);
        }
      }
    }
  }

  /** Calls `fn` for every matching object event; returns the unsubscribe function. */
  onEvent(fn: (record: S3EventRecord) => void, filter: S3EventFilter = {}): () => void {
    const entry = { filter, fn };
    this.#listeners.add(entry);
    return () => {
      this.#listeners.delete(entry);
    };
  }

  /** Calls `fn` for every request the server receives (before faults are injected). */
  onRequest(fn: (info: S3RequestInfo) => void): () => void {
    this.#requestListeners.add(fn);
    return () => {
      this.#requestListeners.delete(fn);
    };
  }

  /** Makes the next `fault.times` matching requests fail; returns how many are still to fail. */
  injectFault(fault: S3Fault): { remaining(): number; clear(): void } {
    const entry = { fault, left: fault.times };
    this.#faults.push(entry);
    return {
      remaining: () => entry.left,
      clear: () => {
        entry.left = 0;
      },
    };
  }

  /** Requests served in all, or for the given operations. */
  requestCount(...operations: S3Operation[]): number {
    let n = 0;
    for (const [op, c] of this.counts) if (operations.length === 0 || operations.includes(op)) n += c;
    return n;
  }

  resetCounts(): void {
    this.counts.clear();
  }

  async stop(): Promise<void> {
    this.#listeners.clear();
    this.#requestListeners.clear();
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
    const logger = (this.s3rver as unknown as { logger?: { close(): void; exceptions?: { unhandle(): void } } }).logger;
    logger?.exceptions?.unhandle();
    logger?.close();
    if (this.ownsDirectory) await fsp.rm(this.directory, { recursive: true, force: true });
  }
}
