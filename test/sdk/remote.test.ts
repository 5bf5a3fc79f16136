// The SDK's remote mode over the local stack: the same DataFrames (DataFrame API and SQL) run in-process
// (`Session.local()` over local files) and through the HTTP API (`Session.connect()` over s3:// copies of the
// same files) give the same rows, counts and Arrow tables; API errors become the SDK's errors; progress is
// reported while an action waits.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateTpch } from '../../bench/tpch/generate.ts';
import { S3ObjectStore } from '../../core/io/object-store.ts';
import type { LocalStack } from '../../infra/local-stack/index.ts';
import { startApiStack, stopApiStack } from '../support/api-stack.ts';
import { AnalysisError, DataError, ExecutionError, Session, UnsupportedError, col, functions as F } from '../../core/sdk/index.ts';
import type { JobInfo } from '../../core/sdk/index.ts';
import '../infra/support.ts';

const KEY = 'remote-test-key-0123456789';
const TABLES = ['lineitem', 'orders', 'customer', 'nation'] as const;
let stack: LocalStack;
let store: S3ObjectStore;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'squall-remote-'));
  await generateTpch({ scaleFactor: 0.01, outDir: dir, tables: [...TABLES] });
  ({ stack, store } = await startApiStack(KEY, { api: 2 }));
  for (const t of TABLES) await store.put(`s3://${stack.bucket}/data/${t}.parquet`, await readFile(join(dir, `${t}.parquet`)));
}, 240_000);

afterAll(async () => {
  await stopApiStack(stack, store);
  if (dir) await rm(dir, { recursive: true, force: true });
});

const localPath = (t: string) => join(dir, `${t}.parquet`);
const s3Path = (t: string) => `s3://${stack.bucket}/data/${t}.parquet`;

function connect(onProgress?: (j: JobInfo) => void): Session {
  return Session.connect({ endpoint: stack.apiEndpoint!, apiKey: KEY, pollMs: 200, ...(onProgress ? { onProgress } : {}) });
}

async function pricingSummary(session: Session, path: (t: string) => string) {
  const lineitem = await session.read.parquet(path('lineitem'));
  return lineitem
    .filter(col('l_shipdate').leq(F.date('1998-09-02')))
    .groupBy('l_returnflag', 'l_linestatus')
    .agg(F.sum('l_quantity').alias('sum_qty'), F.avg('l_discount').alias('avg_disc'), F.max('l_shipdate').alias('last'), F.count().alias('n'))
    .orderBy('l_returnflag', 'l_linestatus');
}

const SQL = `SELECT n_name, count(*) AS orders, sum(o_totalprice) AS total, min(o_orderdate) AS first_order
  FROM orders JOIN customer ON o_custkey = c_custkey JOIN nation ON c_nationkey = n_nationkey
  GROUP BY n_name ORDER BY total DESC, n_name`;

async function sqlFrame(session: Session, path: (t: string) => string) {
  for (const t of ['orders', 'customer', 'nation']) session.registerTable(t, await session.read.parquet(path(t)));
  return session.sql(SQL);
}

describe('Session.connect', () => {
  it('runs a DataFrame-API job with the same rows, count and Arrow table as Session.local()', async () => {
    const progress: JobInfo[] = [];
    const remote = await pricingSummary(connect((j) => progress.push(j)), s3Path);
    const local = await pricingSummary(Session.local(), localPath);
    expect(remote.schema).toEqual(local.schema);
    const [r, l] = [await remote.collect(), await local.collect()];
    expect(r.length).toBeGreaterThan(1);
    expect(r).toEqual(l);
    expect(r[0]!.last).toBeInstanceOf(Date);
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.at(-1)!.state).toBe('succeeded');
    expect(progress.at(-1)!.tasks.done).toBe(progress.at(-1)!.tasks.total);
    expect(await remote.count()).toBe(await local.count());
    const [ra, la] = [await remote.toArrow(), await local.toArrow()];
    expect(ra.numRows).toBe(la.numRows);
    expect(ra.schema.fields.map((f) => `${f.name}:${f.type}`)).toEqual(la.schema.fields.map((f) => `${f.name}:${f.type}`));
    expect(ra.toArray().map((x) => x.toJSON())).toEqual(la.toArray().map((x) => x.toJSON()));
    expect(await remote.showString(2)).toBe(await local.showString(2));
  }, 240_000);

  it('sends session.sql() over file tables as SQL with table bindings, with the same results', async () => {
    const session = connect();
    const remote = await sqlFrame(session, s3Path);
    const local = await sqlFrame(Session.local(), localPath);
    expect(await remote.collect()).toEqual(await local.collect());
    const job = await session.remote!.client.status(session.remote!.lastJobId!);
    expect(job.sql).toBe(SQL);
    // Derived DataFrames go as plans.
    expect(await remote.limit(3).collect()).toEqual(await local.limit(3).collect());
    expect((await session.remote!.client.status(session.remote!.lastJobId!)).sql).toBeNull();
    expect(await remote.explainString()).toContain('== Stages ==');
  }, 240_000);

  it('keeps int64 keys, dates and decimals as local mode returns them, over several result pages', async () => {
    const q = async (s: Session, p: (t: string) => string) =>
      (await s.read.parquet(p('orders'))).select('o_orderkey', 'o_orderdate', 'o_totalprice', 'o_comment').orderBy('o_orderkey').limit(2500);
    const remoteSession = Session.connect({ endpoint: stack.apiEndpoint!, apiKey: KEY, pollMs: 200, pageSize: 1000 });
    const [r, l] = [await (await q(remoteSession, s3Path)).collect(), await (await q(Session.local(), localPath)).collect()];
    expect(r).toHaveLength(2500);
    expect(r).toEqual(l);
    const viaS3 = Session.connect({ endpoint: stack.apiEndpoint!, apiKey: KEY, pollMs: 200, results: 's3' });
    expect(await (await q(viaS3, s3Path)).collect()).toEqual(l);
  }, 240_000);

  it('reports API errors as the SDK errors, naming the problem', async () => {
    const session = connect();
    // Built locally: a bad column fails before anything is sent, as in local mode.
    const orders = await session.read.parquet(s3Path('orders'));
    expect(() => orders.select('o_nope')).toThrow(/o_nope/);
    // The API's 400 becomes an AnalysisError with its message.
    const submit = session.remote!.client.submit({ sql: 'SELECT o_nope FROM orders', tables: { orders: { path: s3Path('orders') } } });
    await expect(submit).rejects.toThrow(AnalysisError);
    await expect(submit).rejects.toThrow(/o_nope/);
    await expect(session.remote!.client.status('no-such-job')).rejects.toThrow(ExecutionError);
    await expect(session.createDataFrame([{ a: 1 }]).collect()).rejects.toThrow(UnsupportedError);
    await expect(session.sql('SELECT 1 AS x').collect()).rejects.toThrow(/SQL without FROM/);
    const wrongKey = Session.connect({ endpoint: stack.apiEndpoint!, apiKey: 'wrong-key-0123456789abcdef' });
    await expect((await wrongKey.read.parquet(s3Path('nation'))).collect()).rejects.toThrow(/API key/);
  }, 120_000);

  it('collect on a failed job throws the job error, of the class a local run throws', async () => {
    const session = connect();
    // Compiles, but overflows int64 while it runs: a DataError in this process, and so through the API.
    const big = (s: Session, p: (t: string) => string) => s.read.parquet(p('orders')).then((o) => o.select(col('o_orderkey').multiply(F.lit(2 ** 50)).multiply(F.lit(2 ** 50)).alias('big')));
    const local = await (await big(Session.local(), localPath)).collect().then(() => null, (e: unknown) => e as Error);
    expect(local).toBeInstanceOf(DataError);
    const err = await (await big(session, s3Path)).collect().then(() => null, (e: unknown) => e as Error);
    expect(err).toBeInstanceOf(DataError);
    expect(err!.message).toMatch(/failed: .*overflow/);
    expect((await session.remote!.client.status(session.remote!.lastJobId!)).errorType).toBe('DataError');
  }, 120_000);

  it('writes Parquet to s3:// from the job itself (resultUri), with save modes', async () => {
    const session = connect();
    const out = `s3://${stack.bucket}/out/nation-by-region`;
    const df = (await session.read.parquet(s3Path('nation'))).groupBy('n_regionkey').agg(F.count().alias('n')).orderBy('n_regionkey');
    await df.write.parquet(out);
    const jobId = session.remote!.lastJobId!;
    expect((await session.remote!.client.status(jobId)).result).toBe(out);
    const expected = await (await Session.local().read.parquet(localPath('nation'))).groupBy('n_regionkey').agg(F.count().alias('n')).orderBy('n_regionkey').collect();
    expect(await (await Session.local().read.parquet(out)).orderBy('n_regionkey').collect()).toEqual(expected);
    await expect(df.write.parquet(out)).rejects.toThrow(/already exists/);
    await df.write.mode('ignore').parquet(out);
    expect(session.remote!.lastJobId).toBe(jobId);
    await df.filter(col('n_regionkey').lt(2)).write.mode('overwrite').parquet(out);
    expect(await (await Session.local().read.parquet(out)).count()).toBe(2);
  }, 240_000);

  it('writes a result through the client, as local mode does', async () => {
    const session = connect();
    const out = join(dir, 'out-nation');
    const df = (await session.read.parquet(s3Path('nation'))).select('n_nationkey', 'n_name').orderBy('n_nationkey');
    await df.write.mode('overwrite').parquet(out);
    const back = await Session.local().read.parquet(out);
    expect(await back.orderBy('n_nationkey').collect()).toEqual(await (await Session.local().read.parquet(localPath('nation'))).select('n_nationkey', 'n_name').orderBy('n_nationkey').collect());
  }, 120_000);

  it('runs UDFs and registered models in SQL through the API (the query goes as its plan), as local mode does', async () => {
    const { ScaleModel, TEST_MODELS_MODULE } = await import('../runtime/support/test-models.ts');
    const frame = async (session: Session, path: (t: string) => string, modelUri: string | undefined) => {
      session.registerTable('nation', await session.read.parquet(path('nation')));
      session.udf.register('shout', (name: string, suffix: string) => `${name.toLowerCase()}${suffix}`, 'string', '!');
      await session.udf.registerModel('boost', new ScaleModel({ inputCol: 'k', factor: 100 }), { modules: [TEST_MODELS_MODULE], ...(modelUri ? { uri: modelUri } : {}) });
      return session.sql('SELECT n_nationkey, shout(n_name) AS loud, boost(n_nationkey) AS boosted FROM nation WHERE boost(n_regionkey) > 100 ORDER BY n_nationkey');
    };
    const local = await (await frame(Session.local(), localPath, undefined)).collect();
    expect(local[0]).toMatchObject({ loud: expect.stringMatching(/!$/) });
    expect(local.every((r) => r['boosted'] === 100 * (r['n_nationkey'] as number))).toBe(true);
    const remote = connect();
    expect(await (await frame(remote, s3Path, `s3://${stack.bucket}/models/boost`)).collect()).toEqual(local);
    // Without a URI a remote session saves the model under the bucket's jobs root, where executors read it.
    const again = connect();
    expect(await (await frame(again, s3Path, undefined)).collect()).toEqual(local);
    const saved = await again.udf.registerModel('kept', new ScaleModel({ inputCol: 'k' }));
    expect(saved.ref.uri).toMatch(new RegExp(`^s3://${stack.bucket}/jobs/_models/[0-9a-f-]+/kept-`));
    expect(await store.head(`${saved.ref.uri}/metadata.json`)).not.toBeNull();
  }, 120_000);
});
