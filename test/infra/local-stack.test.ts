// The local stack as a whole: S3 object events to subscribers and, through a notification, to a trigger
// function running in a Lambda worker that writes back to S3 using only its environment; endpoints and the
// environment for clients; and a stop that leaves no process or listening port behind.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import * as net from 'node:net';
import { S3ObjectStore, endpointsFromEnv } from '../../core/io/object-store.ts';
import { decodeS3EventKey, startLocalStack, type LocalStack, type S3EventRecord } from '../../infra/local-stack/index.ts';
import './support.ts';

const H = 'test/infra/handlers/test-handlers.ts';

describe('S3 events', () => {
  let stack: LocalStack;
  let store: S3ObjectStore;
  beforeAll(async () => {
    stack = await startLocalStack({
      logs: 'silent',
      functions: { trigger: { handler: `${H}#trigger` } },
      notifications: [{ bucket: 'squall', prefix: 'incoming/', suffix: '.json', function: 'trigger' }],
      eventRetries: 0,
    });
    store = S3ObjectStore.fromEndpoints(stack.endpoints());
  });
  afterAll(async () => {
    store?.destroy();
    await stack?.stop();
  });

  test('subscribers get ObjectCreated / ObjectRemoved records shaped as on AWS, filtered', async () => {
    const all: S3EventRecord[] = [];
    const filtered: S3EventRecord[] = [];
    const offAll = stack.s3.onEvent((r) => all.push(r));
    const offFiltered = stack.s3.onEvent((r) => filtered.push(r), { prefix: 'events/a ', suffix: '.txt', events: ['ObjectCreated:*'] });
    await store.put('s3://squall/events/a b.txt', 'hello');
    await store.put('s3://squall/events/other.bin', 'x');
    await store.copy('s3://squall/events/a b.txt', 's3://squall/events/a copy.txt');
    async function* parts() {
      yield new Uint8Array(6 << 20);
      yield new Uint8Array(1 << 20);
    }
    await store.putStream('s3://squall/events/a big.txt', parts(), { partSize: 5 << 20 });
    await store.delete(['s3://squall/events/other.bin']);
    offAll();
    offFiltered();
    await store.put('s3://squall/events/a later.txt', 'unsubscribed');
    expect(all.map((r) => `${r.eventName} ${r.s3.object.key}`)).toEqual([
      'ObjectCreated:Put events/a+b.txt',
      'ObjectCreated:Put events/other.bin',
      'ObjectCreated:Copy events/a+copy.txt',
      'ObjectCreated:Post events/a+big.txt',
      'ObjectRemoved:Delete events/other.bin',
    ]);
    expect(filtered.map((r) => decodeS3EventKey(r.s3.object.key))).toEqual(['events/a b.txt', 'events/a copy.txt', 'events/a big.txt']);
    const put = all[0]!;
    expect(put).toMatchObject({ eventSource: 'aws:s3', awsRegion: 'us-east-1', s3: { bucket: { name: 'squall' }, object: { size: 5 } } });
    expect(put.s3.object.eTag).toBe((await store.head('s3://squall/events/a b.txt'))!.etag.replace(/"/g, ''));
  });

  test('a notification delivers created objects to the trigger function, which writes back through S3', async () => {
    await store.put('s3://squall/incoming/job 1.json', '{"job":1}');
    await store.put('s3://squall/incoming/ignored.txt', 'not json');
    await store.put('s3://squall/elsewhere/job 2.json', '{"job":2}');
    await stack.lambda.idle();
    const seen = await store.get('s3://squall/seen/incoming/job 1.json');
    const record = JSON.parse(new TextDecoder().decode(seen)) as S3EventRecord;
    expect(record.eventName).toBe('ObjectCreated:Put');
    expect(record.s3.object.key).toBe('incoming/job+1.json');
    expect(await store.head('s3://squall/seen/incoming/ignored.txt')).toBeNull();
    expect(await store.head('s3://squall/seen/elsewhere/job 2.json')).toBeNull();
  });
});

describe('lifecycle', () => {
  test('endpoints are loopback URLs on free ports; env() points clients at them', async () => {
    const [a, b] = await Promise.all([startLocalStack({ logs: 'silent' }), startLocalStack({ logs: 'silent' })]);
    try {
      for (const s of [a, b]) {
        expect(s.s3Endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
        expect(s.lambdaEndpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      }
      expect(new Set([a.s3Endpoint, a.lambdaEndpoint, b.s3Endpoint, b.lambdaEndpoint]).size).toBe(4);
      expect(endpointsFromEnv(a.env())).toEqual(a.endpoints());
      expect(a.env().SQUALL_BUCKET).toBe('squall');
      // The two stacks are independent.
      const sa = S3ObjectStore.fromEnv(a.env());
      const sb = S3ObjectStore.fromEnv(b.env());
      await sa.put('s3://squall/only-in-a', 'a');
      expect(await sb.head('s3://squall/only-in-a')).toBeNull();
      sa.destroy();
      sb.destroy();
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });

  test('stop ends every worker process and closes both ports', async () => {
    const stack = await startLocalStack({ logs: 'silent', functions: { counter: { handler: `${H}#counter` }, sleep: { handler: `${H}#sleep` } } });
    await stack.lambda.prewarm('counter', 2);
    const outcome = await stack.lambda.invoke('counter', '{}');
    expect(outcome?.ok).toBe(true);
    // Prewarmed: no cold start; the worker's resident memory is reported.
    expect(outcome?.coldStart).toBe(false);
    expect(outcome?.maxMemoryUsedMb).toBeGreaterThan(20);
    const cold = await stack.lambda.invoke('sleep', '{"ms":1}');
    expect(cold?.coldStart).toBe(true);
    expect(cold?.initMs).toBeGreaterThan(0);
    const pid = outcome?.ok ? (JSON.parse(outcome.payload) as { pid: number }).pid : -1;
    const pending = stack.lambda.invoke('sleep', '{"ms":30000}');
    while (stack.lambda.workers('sleep').active === 0) await new Promise((r) => setTimeout(r, 10));
    expect(stack.lambda.workers('counter').total).toBe(2);
    const ports = [stack.s3Endpoint, stack.lambdaEndpoint].map((u) => Number(new URL(u).port));
    await stack.stop();
    const interrupted = await pending;
    expect(interrupted?.ok).toBe(false);
    expect(() => process.kill(pid, 0)).toThrow();
    expect(stack.lambda.workers('counter').total).toBe(0);
    expect(stack.lambda.workers('sleep').total).toBe(0);
    for (const port of ports) expect(await canConnect(port)).toBe(false);
  });
});

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
