// Measures the local stack's own costs: s3rver PUT/GET latency and parallel GETs, and the Invoke endpoint's
// cold start and warm per-invoke overhead through @aws-sdk/client-lambda. `npx tsx infra/local-stack/measure.ts`
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { S3ObjectStore, lambdaClientConfig } from '../../core/io/object-store.ts';
import { startLocalStack } from './index.ts';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

function stats(ms: number[]): string {
  const s = [...ms].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
  return `median ${q(0.5).toFixed(2)} ms, p95 ${q(0.95).toFixed(2)} ms (n=${s.length})`;
}

async function time<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const t = performance.now();
  const r = await fn();
  return [performance.now() - t, r];
}

const stack = await startLocalStack({ logs: 'silent', concurrency: 16, functions: { noop: { handler: 'infra/local-stack/noop-handler.ts#handler' } } });
const store = S3ObjectStore.fromEndpoints(stack.endpoints());
const client = new LambdaClient(lambdaClientConfig(stack.endpoints()));
try {
  const kb = new Uint8Array(1024).fill(1);
  for (let i = 0; i < 20; i++) await store.put(`s3://squall/warmup/${i}`, kb);
  const puts: number[] = [];
  const gets: number[] = [];
  for (let i = 0; i < 200; i++) puts.push((await time(() => store.put(`s3://squall/m/${i}`, kb)))[0]);
  for (let i = 0; i < 200; i++) gets.push((await time(() => store.get(`s3://squall/m/${i}`)))[0]);
  const [parallel] = await time(() => Promise.all(Array.from({ length: 200 }, (_, i) => store.get(`s3://squall/m/${i}`))));
  const big = new Uint8Array(64 << 20);
  const [putBig] = await time(() => store.put('s3://squall/m/big', big));
  const [getBig] = await time(() => store.get('s3://squall/m/big'));
  console.log(`s3rver 1 KB PUT: ${stats(puts)}`);
  console.log(`s3rver 1 KB GET: ${stats(gets)}`);
  console.log(`s3rver 200 parallel 1 KB GETs: ${parallel.toFixed(0)} ms`);
  console.log(`s3rver 64 MB PUT ${putBig.toFixed(0)} ms (${(64 / (putBig / 1000)).toFixed(0)} MB/s), GET ${getBig.toFixed(0)} ms (${(64 / (getBig / 1000)).toFixed(0)} MB/s)`);

  const invoke = (payload: string) => client.send(new InvokeCommand({ FunctionName: 'noop', Payload: payload }));
  const colds: number[] = [];
  for (let i = 0; i < 3; i++) {
    stack.lambda.register('noop', { handler: 'infra/local-stack/noop-handler.ts#handler' });
    colds.push((await time(() => invoke('{}')))[0]);
  }
  const warm: number[] = [];
  for (let i = 0; i < 500; i++) warm.push((await time(() => invoke(`{"i":${i}}`)))[0]);
  const direct: number[] = [];
  for (let i = 0; i < 500; i++) direct.push((await time(() => stack.lambda.invoke('noop', `{"i":${i}}`)))[0]);
  const payload100k = JSON.stringify({ pad: 'x'.repeat(100_000) });
  const warm100k: number[] = [];
  for (let i = 0; i < 100; i++) warm100k.push((await time(() => invoke(payload100k)))[0]);
  await stack.lambda.prewarm('noop', 7);
  const n = 1000;
  const [par] = await time(async () => {
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next++ < n) await invoke('{}');
      }),
    );
  });
  console.log(`Lambda cold start (fork + tsx + import, via SDK): ${stats(colds)}`);
  console.log(`Lambda warm invoke via SDK, tiny payload: ${stats(warm)}`);
  console.log(`Lambda warm invoke in-process (no HTTP/SDK): ${stats(direct)}`);
  console.log(`Lambda warm invoke via SDK, 100 KB payload echoed: ${stats(warm100k)}`);
  console.log(`Lambda ${n} invokes, 8 in flight, 8 warm workers: ${par.toFixed(0)} ms (${((par / n) * 1000).toFixed(0)} µs per invoke)`);
} finally {
  client.destroy();
  store.destroy();
  await stack.stop();
}
