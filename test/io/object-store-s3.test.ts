// S3-specific behaviour of the object store: the ranged-read planner (pure) and its request counts at the
// server, explicit ranges only, retries on injected 503 SlowDown and network errors (bounded), and the client
// configuration for s3rver versus AWS.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Readable } from 'node:stream';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import {
  ObjectStoreError,
  endpointsFromEnv,
  endpointsToEnv,
  isRetryable,
  planRangeRequests,
  readRanges,
  s3ClientConfig,
  lambdaClientConfig,
  type ByteRange,
} from '../../core/io/object-store.ts';
import type { S3RequestInfo as ServerRequestInfo } from '../../infra/local-stack/index.ts';
import { pseudoRandomBytes, sameBytes, startS3Target, type S3Target } from '../infra/support.ts';

const MB = 1 << 20;

describe('planRangeRequests', () => {
  const plan = (ranges: ByteRange[], o = {}) => planRangeRequests(ranges, { gapBytes: 1000, requestBytes: 8 * MB, ...o }).map((r) => [r.start, r.end]);

  test('coalesces ranges across gaps up to the threshold, not beyond', () => {
    expect(plan([{ start: 0, end: 100 }, { start: 1100, end: 1200 }])).toEqual([[0, 1200]]);
    expect(plan([{ start: 0, end: 100 }, { start: 1101, end: 1200 }])).toEqual([[0, 100], [1101, 1200]]);
  });

  test('sorts, merges overlaps and drops empty ranges', () => {
    expect(plan([{ start: 5000, end: 6000 }, { start: 0, end: 10 }, { start: 5500, end: 5600 }, { start: 20, end: 20 }, { start: 5, end: 30 }])).toEqual([
      [0, 30],
      [5000, 6000],
    ]);
    expect(plan([])).toEqual([]);
  });

  test('cuts large spans into requests of at most requestBytes, evenly', () => {
    expect(plan([{ start: 0, end: 20 * MB }])).toEqual([
      [0, 6990507],
      [6990507, 13981014],
      [13981014, 20 * MB],
    ]);
    const many = Array.from({ length: 64 }, (_, i) => ({ start: i * MB, end: i * MB + MB - 10 }));
    const requests = plan(many);
    expect(requests.length).toBe(8);
    expect(requests.every(([s, e]) => e! - s! <= 8 * MB)).toBe(true);
  });

  test('does not merge across a gap when that would cost an extra request', () => {
    // Each part fits one request; together (with the gap) they would need two anyway, so either way is two.
    expect(plan([{ start: 0, end: 7 * MB }, { start: 7 * MB + 500, end: 8 * MB + 600 }]).length).toBe(2);
  });

  test('rejects invalid ranges', () => {
    expect(() => plan([{ start: 10, end: 5 }])).toThrow(/invalid byte range 10-5/);
    expect(() => plan([{ start: -1, end: 5 }])).toThrow(/invalid byte range/);
  });
});

describe('aws config', () => {
  test('custom endpoints get path style and checksums only when required; AWS keeps the SDK defaults', () => {
    const local = s3ClientConfig({ region: 'eu-west-1', s3Endpoint: 'http://127.0.0.1:1234', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } });
    expect(local).toMatchObject({
      region: 'eu-west-1',
      endpoint: 'http://127.0.0.1:1234',
      forcePathStyle: true,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      maxAttempts: 1,
    });
    const aws = s3ClientConfig({ region: 'eu-west-1' });
    expect(aws.endpoint).toBeUndefined();
    expect(aws.forcePathStyle).toBe(false);
    expect(aws.requestChecksumCalculation).toBeUndefined();
    expect(aws.credentials).toBeUndefined();
    expect(lambdaClientConfig({ region: 'x', lambdaEndpoint: 'http://127.0.0.1:9' })).toMatchObject({ endpoint: 'http://127.0.0.1:9', maxAttempts: 1 });
  });

  test('endpoints round-trip through environment variables', () => {
    const e = {
      region: 'ap-south-1',
      s3Endpoint: 'http://127.0.0.1:1',
      lambdaEndpoint: 'http://127.0.0.1:2',
      credentials: { accessKeyId: 'k', secretAccessKey: 's' },
      forcePathStyle: true,
    };
    expect(endpointsFromEnv(endpointsToEnv(e))).toEqual(e);
    expect(endpointsFromEnv({})).toEqual({ region: 'us-east-1', s3Endpoint: undefined, lambdaEndpoint: undefined, credentials: undefined, forcePathStyle: undefined });
  });

  test('retryable errors: throttling, 5xx, network; not 4xx', () => {
    expect(isRetryable({ name: 'SlowDown', $metadata: { httpStatusCode: 503 } })).toBe(true);
    expect(isRetryable({ name: 'InternalError', $metadata: { httpStatusCode: 500 } })).toBe(true);
    expect(isRetryable(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }))).toBe(true);
    expect(isRetryable({ name: 'NoSuchKey', $metadata: { httpStatusCode: 404 } })).toBe(false);
    expect(isRetryable({ name: 'AccessDenied', $metadata: { httpStatusCode: 403 } })).toBe(false);
  });
});

describe('S3ObjectStore on s3rver', () => {
  let s3: S3Target;
  const requests: ServerRequestInfo[] = [];
  beforeAll(async () => {
    s3 = await startS3Target();
    s3.server?.onRequest((r) => requests.push(r));
  });
  afterAll(async () => {
    await s3?.stop();
  });
  const local = () => {
    if (!s3.server) throw new Error('needs the local S3 server');
    return s3.server;
  };

  test('a Parquet-like read plan becomes few large requests with explicit ranges, several in flight', async () => {
    const server = local();
    const store = s3.store();
    const uri = `s3://${s3.bucket}/ranges/file.parquet`;
    const size = 40 * MB + 123;
    const data = pseudoRandomBytes(size, 9);
    await store.put(uri, data);
    // The footer (size known from a HEAD), then 30 column chunks of ~1 MB with small gaps between them.
    const head = await store.head(uri);
    expect(head?.size).toBe(size);
    const chunks: ByteRange[] = Array.from({ length: 30 }, (_, i) => ({ start: i * 1_300_000, end: i * 1_300_000 + 1_000_000 }));
    const footer: ByteRange = { start: size - 8, end: size };
    requests.length = 0;
    let inFlight = 0;
    let maxInFlight = 0;
    const counting = {
      getRange: async (u: string, s: number, e: number) => {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        try {
          return await store.getRange(u, s, e);
        } finally {
          inFlight--;
        }
      },
    };
    const got = await readRanges(counting, uri, [footer, ...chunks], { gapBytes: 512 << 10, requestBytes: 8 * MB, concurrency: 4 });
    expect(sameBytes(got[0]!, data.subarray(size - 8))).toBe('same');
    chunks.forEach((c, i) => expect(sameBytes(got[i + 1]!, data.subarray(c.start, c.end))).toBe('same'));
    const gets = requests.filter((r) => r.operation === 'GetObject');
    // 30 chunks span 38.7 MB → 5 requests of ≤ 8 MB, plus the footer on its own.
    expect(gets.length).toBe(6);
    expect(maxInFlight).toBe(4);
    for (const g of gets) expect(g.range).toMatch(/^bytes=\d+-\d+$/);
    for (const g of gets) {
      const [, a, b] = /^bytes=(\d+)-(\d+)$/.exec(g.range!)!;
      expect(Number(b) - Number(a) + 1).toBeLessThanOrEqual(8 * MB);
    }
    expect(gets.some((g) => g.range === `bytes=${size - 8}-${size - 1}`)).toBe(true);
    // Without coalescing, the same plan costs one request per range.
    requests.length = 0;
    await readRanges(store, uri, chunks, { gapBytes: 0, requestBytes: 8 * MB });
    expect(requests.filter((r) => r.operation === 'GetObject').length).toBe(30);
  });

  test('streamed request bodies are stored without aws-chunked framing (and would be with the SDK defaults)', async () => {
    local();
    const data = pseudoRandomBytes(9 * MB + 17, 4);
    const put = async (client: S3Client, key: string) => {
      const body = Readable.from([data.subarray(0, 3 * MB), data.subarray(3 * MB)]);
      await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: body, ContentLength: data.length }));
      return s3.store().get(`s3://${s3.bucket}/${key}`);
    };
    const ours = new S3Client(s3ClientConfig(s3.endpoints));
    const defaults = new S3Client({ ...s3ClientConfig(s3.endpoints), requestChecksumCalculation: undefined, responseChecksumValidation: undefined });
    try {
      expect(sameBytes(await put(ours, 'framing/ours'), data)).toBe('same');
      // The control: the SDK's default CRC32 trailer makes s3rver store the chunk framing inside the object.
      const framed = await put(defaults, 'framing/defaults');
      expect(framed.length).toBeGreaterThan(data.length);
      expect(new TextDecoder().decode(framed.subarray(0, 64))).toMatch(/^[0-9a-f]+\r\n/);
    } finally {
      ours.destroy();
      defaults.destroy();
    }
  });

  test('503 SlowDown is retried with backoff and counted; the result is correct', async () => {
    const server = local();
    const store = s3.store({ retry: { maxAttempts: 5, baseDelayMs: 5, maxDelayMs: 50 } });
    const uri = `s3://${s3.bucket}/retry/obj`;
    await store.put(uri, 'payload');
    server.resetCounts();
    const fault = server.injectFault({ status: 503, code: 'SlowDown', times: 3, match: (r) => r.operation === 'GetObject' });
    expect(new TextDecoder().decode(await store.get(uri))).toBe('payload');
    expect(fault.remaining()).toBe(0);
    expect(server.requestCount('GetObject')).toBe(4);
    expect(store.stats.retries).toBe(3);
    // Puts and multipart parts too.
    server.injectFault({ status: 503, code: 'SlowDown', times: 2, match: (r) => r.operation === 'UploadPart' });
    const big = pseudoRandomBytes(11 * MB, 2);
    await store.put(uri, new Uint8Array(0));
    async function* body() {
      yield big;
    }
    await store.putStream(uri + '.big', body(), { partSize: 5 * MB });
    expect(sameBytes(await store.get(uri + '.big'), big)).toBe('same');
    expect(store.stats.retries).toBe(5);
  });

  test('retries are bounded: persistent SlowDown fails naming the object, the operation and the code', async () => {
    const server = local();
    const store = s3.store({ retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 5 } });
    const uri = `s3://${s3.bucket}/retry/bounded`;
    await store.put(uri, 'x'.repeat(300));
    server.resetCounts();
    const fault = server.injectFault({ status: 503, code: 'SlowDown', times: 100, match: (r) => r.key === 'retry/bounded' && r.operation === 'GetObject' });
    const err = await store.getRange(uri, 100, 200).catch((e: unknown) => e);
    fault.clear();
    expect(err).toBeInstanceOf(ObjectStoreError);
    expect((err as ObjectStoreError).message).toMatch(/^s3:\/\/squall\/retry\/bounded: GET range 100-200 failed: SlowDown/);
    expect((err as ObjectStoreError).status).toBe(503);
    expect(server.requestCount('GetObject')).toBe(3);
    // Not-found is not retried.
    server.resetCounts();
    await expect(store.get(uri + '-missing')).rejects.toThrow(/NoSuchKey/);
    expect(server.requestCount('GetObject')).toBe(1);
  });

  test('network errors are retried (fault-injecting client middleware)', async () => {
    const store = s3.store({ retry: { maxAttempts: 4, baseDelayMs: 1, maxDelayMs: 5 } });
    const uri = `s3://${s3.bucket}/retry/network`;
    await store.put(uri, 'still here');
    let failures = 2;
    let sent = 0;
    store.client.middlewareStack.add(
      (next) => async (args) => {
        sent++;
        if (failures-- > 0) throw Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
        return next(args);
      },
      { step: 'finalizeRequest', name: 'injectNetworkFault' },
    );
    expect(new TextDecoder().decode(await store.get(uri))).toBe('still here');
    expect(sent).toBe(3);
    expect(store.stats.retries).toBe(2);
  });
});
