// The second-action speedup from df.cache(): a TPC-H join and aggregate is cached, then two different actions
// run on top of it. Without the cache each action scans and joins again; with it, the second action reads the
// materialized relation. Prints both timings and their ratio. In-process the relation is kept in memory; with
// --remote the actions run as jobs through the local stack (s3rver, the Lambda endpoint with the real handlers,
// the HTTP API) over S3 copies of the tables, and the relation is an S3 cache entry (Parquet) that the second
// action's job scans.
// Usage: npx tsx bench/cache.ts [scale factor, default 0.1] [--remote]
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cacheStats } from '../core/cache/plan-cache.ts';
import { dropEntry, listEntries } from '../core/cache/s3-cache.ts';
import { S3ObjectStore } from '../core/io/object-store.ts';
import { setS3Store } from '../core/io/s3-file-store.ts';
import { Session, col, functions as F } from '../core/sdk/index.ts';
import { type LocalStack, startLocalStack } from '../infra/local-stack/index.ts';
import { generateTpch } from './tpch/generate.ts';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const remote = process.argv.includes('--remote');
const sf = Number(process.argv.slice(2).find((a) => !a.startsWith('--')) ?? 0.1);
const dir = join(import.meta.dirname, '.data', `tpch-sf${sf}`);
const TABLES = ['lineitem', 'orders', 'customer', 'nation'] as const;
const files = await generateTpch({ scaleFactor: sf, outDir: dir, tables: [...TABLES] });

const KEY = 'bench-cache-key-0123456789abcdef';
let stack: LocalStack | null = null;
let store: S3ObjectStore | null = null;
let cacheRoot = '';
const paths: Record<string, string> = Object.fromEntries(TABLES.map((t) => [t, files[t]!.path]));
if (remote) {
  stack = await startLocalStack({
    concurrency: 4,
    logs: 'silent',
    functions: {
      executor: { handler: 'functions/executor.ts#handler', timeoutSeconds: 300 },
      coordinator: { handler: 'functions/coordinator.ts#handler', timeoutSeconds: 900, environment: { SQUALL_EXECUTOR_FUNCTION: 'executor' } },
      api: { handler: 'functions/api.ts#handler', timeoutSeconds: 60, environment: { SQUALL_API_KEYS: `bench:${KEY}`, SQUALL_COORDINATOR_FUNCTION: 'coordinator' } },
    },
    httpApi: { function: 'api' },
  });
  await Promise.all([stack.lambda.prewarm('api', 1), stack.lambda.prewarm('coordinator', 1), stack.lambda.prewarm('executor', 2)]);
  store = S3ObjectStore.fromEndpoints(stack.endpoints());
  setS3Store(store);
  cacheRoot = `s3://${stack.bucket}/cache`;
  for (const t of TABLES) {
    paths[t] = `s3://${stack.bucket}/data/${t}.parquet`;
    await store.put(paths[t]!, await readFile(files[t]!.path));
  }
}

function newSession(): Session {
  return stack ? Session.connect({ endpoint: stack.apiEndpoint!, apiKey: KEY, pollMs: 50, cache: { root: cacheRoot } }) : Session.local();
}

async function build(session: Session) {
  const lineitem = await session.read.parquet(paths.lineitem!);
  const orders = await session.read.parquet(paths.orders!);
  const customer = await session.read.parquet(paths.customer!);
  const nation = await session.read.parquet(paths.nation!);
  // Revenue per order line with its customer's nation: the expensive part both actions share.
  return lineitem
    .join(orders, col('l_orderkey').eq(col('o_orderkey')))
    .join(customer, col('o_custkey').eq(col('c_custkey')))
    .join(nation, col('c_nationkey').eq(col('n_nationkey')))
    .select(col('n_name'), col('o_orderdate'), col('l_extendedprice').multiply(col('l_discount').minus(1).negate()).alias('revenue'));
}

async function secondAction(cached: boolean): Promise<{ first: number; second: number }> {
  const session = newSession();
  let base = await build(session);
  if (cached) base = base.cache();
  let t0 = performance.now();
  await base.groupBy('n_name').agg(F.sum('revenue').alias('revenue')).collect();
  const first = performance.now() - t0;
  // The second action three times, its median: one run on a shared machine is noise.
  const times: number[] = [];
  for (let i = 0; i < 3; i++) {
    t0 = performance.now();
    await base.filter(col('o_orderdate').geq(F.date('1995-01-01'))).agg(F.count().alias('n'), F.sum('revenue').alias('r')).collect();
    times.push(performance.now() - t0);
  }
  const second = times.sort((a, b) => a - b)[1]!;
  if (cached) {
    const stats = cacheStats(session);
    if (stats.hits < 1) throw new Error('the second action did not read the cached relation');
  }
  return { first, second };
}

// Warm up the decoder and kernels (and, remotely, the workers) once so neither side pays for compilation.
await secondAction(false);
const plain = await secondAction(false);
const cached = await secondAction(true);
if (stack) {
  for (const e of await listEntries(cacheRoot)) await dropEntry(cacheRoot, e.entry);
  setS3Store(null);
  store?.destroy();
  await stack.stop();
}
console.log(`TPC-H SF ${sf}: lineitem ⋈ orders ⋈ customer ⋈ nation, then two aggregates over it (${remote ? 'jobs through the local stack, cache entry on S3' : 'in-process, cache in memory'})`);
console.log(`without cache: first action ${plain.first.toFixed(0)} ms, second ${plain.second.toFixed(0)} ms (median of 3)`);
console.log(`with cache():  first action ${cached.first.toFixed(0)} ms (materializes), second ${cached.second.toFixed(0)} ms`);
console.log(`second-action speedup from cache: ${(plain.second / cached.second).toFixed(1)}×`);
