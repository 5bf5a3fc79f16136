// RDD stages on the serverless executors: the local stack (s3rver, the Lambda endpoint running the real
// executor, coordinator and API handlers in worker processes, the HTTP API) on free loopback ports. A word count
// over a generated corpus on S3 through `Session.connect()` equals the in-process count over the same files;
// reduceByKey's map-side combining writes fewer shuffle bytes than groupByKey (from the jobs' stage metrics);
// a join, union and coalesce over shuffles, sortBy, persist() (S3 cache entries) and df.rdd match in-process; a
// throwing user function fails the job with the user's message and line after its retries; a captured variable
// is refused when the RDD is built.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { S3ObjectStore } from '../../core/io/object-store.ts';
import { generateTpch } from '../../bench/tpch/generate.ts';
import { AnalysisError, ExecutionError, Session, UnsupportedError, col } from '../../core/sdk/index.ts';
import type { LocalStack } from '../../infra/local-stack/index.ts';
import { startApiStack, stopApiStack } from '../support/api-stack.ts';
import '../infra/support.ts';
import { seededRandom } from '../../core/util/seeded-random.ts';

const KEY = 'rdd-remote-test-key-0123456789';
const FILES = 3;
let stack: LocalStack;
let store: S3ObjectStore;
let dir: string;

/** Lines of words w0..w299 drawn with probability ~ 1/(rank+1) (a seeded generator): a few frequent words, a long tail. */
function corpus(seed: number, lines: number): string {
  const rand = seededRandom(seed);
  const out: string[] = [];
  for (let l = 0; l < lines; l++) {
    const words: string[] = [];
    for (let i = 0; i < 12; i++) words.push(`w${Math.floor(Math.exp(rand() * Math.log(300))) - 1}`);
    out.push(words.join(' '));
  }
  return out.join('\n') + '\n';
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'squall-rdd-remote-'));
  ({ stack, store } = await startApiStack(KEY));
  await generateTpch({ scaleFactor: 0.01, outDir: dir, tables: ['nation'] });
  await store.put(`s3://${stack.bucket}/data/nation.parquet`, await readFile(join(dir, 'nation.parquet')));
  for (let f = 0; f < FILES; f++) {
    const text = corpus(f + 1, 2500);
    await writeFile(join(dir, `part-${f}.txt`), text);
    await store.put(`s3://${stack.bucket}/corpus/part-${f}.txt`, text);
  }
}, 240_000);

afterAll(async () => {
  await stopApiStack(stack, store);
  if (dir) await rm(dir, { recursive: true, force: true });
});

// At most 3 executors per job: the stack's 6 workers also serve the API and the coordinator, whose calls would
// otherwise be throttled (429) while a job's tasks hold every worker of a loaded machine.
const SCHEDULER = { retryBaseMs: 50, retryMaxMs: 200, concurrency: 3 };

function connect(scheduler: Record<string, number> = {}): Session {
  return Session.connect({ endpoint: stack.apiEndpoint!, apiKey: KEY, pollMs: 100, jobOptions: { scheduler: { ...SCHEDULER, ...scheduler } } });
}

const SPLIT = 40_000;

async function words(session: Session, path: string) {
  return (await session.textFile(path, { splitBytes: SPLIT })).flatMap((line) => line.split(' '));
}

const byKey = <T extends [unknown, unknown]>(rows: T[]) => [...rows].sort((a, b) => String(a[0]).localeCompare(String(b[0])));

describe('RDDs on the executors (local stack)', () => {
  test('word count equals the in-process count; reduceByKey shuffles fewer bytes than groupByKey', async () => {
    const remote = connect();
    const local = Session.local();
    const remoteWords = await words(remote, `s3://${stack.bucket}/corpus/*.txt`);
    expect(remoteWords.getNumPartitions()).toBeGreaterThanOrEqual(2 * FILES);
    const count = (w: typeof remoteWords) => w.map((x) => [x, 1] as [string, number]).reduceByKey((a, b) => a + b, 4);
    const remoteCounts = count(remoteWords);
    const got = await remoteCounts.collect();
    const expected = await count(await words(local, join(dir, '*.txt'))).collect();
    expect(got.length).toBeGreaterThan(250);
    expect(byKey(got)).toEqual(byKey(expected));
    expect(got.reduce((n, [, c]) => n + c, 0)).toBe(FILES * 2500 * 12);
    // The same result read from the result Parquet on S3 instead of the API's pages.
    const viaS3 = Session.connect({ endpoint: stack.apiEndpoint!, apiKey: KEY, pollMs: 100, results: 's3', jobOptions: { scheduler: SCHEDULER } });
    expect(byKey(await count(await words(viaS3, `s3://${stack.bucket}/corpus/*.txt`)).collect())).toEqual(byKey(expected));
    const reduced = remoteCounts.lastMetrics!;
    expect(reduced.shuffles).toBe(1);
    expect(reduced.shuffleBytesWritten).toBeGreaterThan(0);

    // The same counts from groupByKey, which ships every (word, 1) pair.
    const grouped = remoteWords.map((x) => [x, 1] as [string, number]).groupByKey(4).mapValues((vs) => vs.length);
    expect(byKey(await grouped.collect())).toEqual(byKey(expected));
    const groupedBytes = grouped.lastMetrics!.shuffleBytesWritten;
    // 90,000 pairs against at most 300 words per map task: the combined shuffle is far smaller.
    expect(groupedBytes / reduced.shuffleBytesWritten).toBeGreaterThan(10);
  }, 180_000);

  test('join, union and coalesce over shuffles, take and reduce match in-process', async () => {
    const build = async (session: Session, path: string) => {
      const counts = (await words(session, path)).map((w) => [w, 1] as [string, number]).reduceByKey((a, b) => a + b, 3);
      const lengths = session.parallelize(Array.from({ length: 300 }, (_, i) => [`w${i}`, `w${i}`.length] as [string, number]), 2);
      const joined = counts.join(lengths, 2).map(([w, [n, len]]) => [w, n * len] as [string, number]);
      return joined.union(counts).coalesce(2);
    };
    const remote = await build(connect(), `s3://${stack.bucket}/corpus/*.txt`);
    const local = await build(Session.local(), join(dir, '*.txt'));
    expect(remote.getNumPartitions()).toBe(2);
    const got = await remote.collect();
    expect(byKey(got)).toEqual(byKey(await local.collect()));
    // Map stages: the join's two sides, and the word counts once for the join and once for the union (a shuffle
    // read by two stages is computed for each).
    expect(remote.lastMetrics!.shuffles).toBe(4);
    expect(await remote.take(5)).toHaveLength(5);
    expect(await remote.map(([, n]) => n).reduce((a, b) => a + b)).toBe(await local.map(([, n]) => n).reduce((a, b) => a + b));
  }, 180_000);

  test('sortBy and sortByKey run as range shuffles (a sampling stage, then ranges) and sort globally', async () => {
    const build = async (session: Session, path: string) =>
      (await words(session, path)).map((w) => [w, 1] as [string, number]).reduceByKey((a, b) => a + b, 3);
    const remoteCounts = await build(connect(), `s3://${stack.bucket}/corpus/*.txt`);
    const localCounts = await build(Session.local(), join(dir, '*.txt'));
    const byCount = remoteCounts.sortBy(([, n]) => n, false, 3);
    const got = await byCount.collect();
    const want = await localCounts.sortBy(([, n]) => n, false, 3).collect();
    // Equal counts may come in another order; the counts themselves are in the same (descending) order.
    expect(got.map(([, n]) => n)).toEqual(want.map(([, n]) => n));
    expect(byKey(got)).toEqual(byKey(want));
    // Map stages: the sampling pass and the ranged map side, each over the word counts' own map stage.
    expect(byCount.lastMetrics!.shuffles).toBe(4);
    const keys = await remoteCounts.sortByKey(true, 4).keys().collect();
    expect(keys).toEqual(await localCounts.sortByKey(true, 4).keys().collect());
    expect(keys).toEqual([...keys].sort());
  }, 180_000);

  test('rdd.persist() keeps the partitions in an S3 cache entry: later actions and a new session read it, not the text files', async () => {
    let corpusGets = 0;
    const off = stack.s3.onRequest((r) => {
      if (r.key.startsWith('corpus/') && r.operation === 'GetObject') corpusGets++;
    });
    try {
      const root = `s3://${stack.bucket}/rdd-cache`;
      const session = () => Session.connect({ endpoint: stack.apiEndpoint!, apiKey: KEY, pollMs: 100, jobOptions: { scheduler: SCHEDULER }, cache: { root } });
      const build = async (s: Session) => (await words(s, `s3://${stack.bucket}/corpus/*.txt`)).map((w) => [w, 1] as [string, number]).reduceByKey((a, b) => a + b, 3);
      const counts = (await build(session())).persist();
      const frequent = counts.filter(([, n]) => n > 200);
      const first = await frequent.collect();
      expect(frequent.lastMetrics).toMatchObject({ persistedNodesWritten: 1, persistedPartitionsRead: 3 });
      const local = await (await words(Session.local(), join(dir, '*.txt'))).map((w) => [w, 1] as [string, number]).reduceByKey((a, b) => a + b, 3).collect();
      expect(byKey(first)).toEqual(byKey(local.filter(([, n]) => n > 200)));

      corpusGets = 0;
      expect(await counts.count()).toBe(local.length);
      expect(counts.lastMetrics).toMatchObject({ persistedNodesWritten: 0, persistedPartitionsRead: 3, shuffles: 0 });
      const again = (await build(session())).persist();
      expect(byKey(await again.collect())).toEqual(byKey(local));
      expect(again.lastMetrics).toMatchObject({ persistedNodesWritten: 0, shuffles: 0 });
      expect(corpusGets).toBe(0);
      expect((await counts.unpersist().count())).toBe(local.length);
      expect(counts.lastMetrics).toMatchObject({ persistedPartitionsRead: 0, shuffles: 1 });
      expect(corpusGets).toBeGreaterThan(0);
    } finally {
      off();
    }
  }, 180_000);

  test('df.rdd runs the DataFrame as a job, then the RDD over its Parquet parts, as in-process', async () => {
    const build = async (session: Session, path: string) => {
      const nation = await session.read.parquet(path);
      return nation
        .filter(col('n_regionkey').lt(4))
        .rdd.map((r) => [r['n_regionkey'] as number, (r['n_name'] as string).length] as [number, number])
        .reduceByKey((a, b) => a + b, 2);
    };
    const remote = await build(connect(), `s3://${stack.bucket}/data/nation.parquet`);
    const local = await build(Session.local(), join(dir, 'nation.parquet'));
    const got = await remote.collect();
    expect(got).toHaveLength(4);
    expect(byKey(got)).toEqual(byKey(await local.collect()));
    const rows = (await connect().read.parquet(`s3://${stack.bucket}/data/nation.parquet`)).rdd;
    expect(rows.getNumPartitions()).toBe(4);
    const names = (await rows.map((r) => r['n_name'] as string).collect()).sort();
    expect(names).toHaveLength(25);
    expect(names).toEqual((await (await Session.local().read.parquet(join(dir, 'nation.parquet'))).rdd.map((r) => r['n_name'] as string).collect()).sort());
  }, 180_000);

  test('a throwing user function fails the job with its message and line, after retries', async () => {
    const session = connect({ maxAttempts: 2 });
    const lines = await session.textFile(`s3://${stack.bucket}/corpus/part-0.txt`);
    const bad = lines.map((line) => {
      const n = line.split(' ').length;
      if (n === 12) throw new RangeError(`a line of ${n} words`);
      return n;
    });
    const err = await bad.count().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ExecutionError);
    expect((err as Error).message).toMatch(/the function passed to map\(\) threw: RangeError: a line of 12 words \(line 3 of the function: if \(n === 12\) throw new RangeError/);
    const status = await session.remote!.client.status(session.remote!.lastJobId!);
    expect(status.state).toBe('failed');
    expect(status.retries).toBeGreaterThanOrEqual(1);
  }, 180_000);

  test('saveAsTextFile to S3: the executors write the parts, the client commits them with a manifest', async () => {
    const counts = (await words(connect(), `s3://${stack.bucket}/corpus/*.txt`)).map((w) => [w, 1] as [string, number]).reduceByKey((a, b) => a + b, 3);
    const out = `s3://${stack.bucket}/out/counts`;
    const { files } = await counts.saveAsTextFile(out);
    expect(files).toEqual([0, 1, 2].map((p) => `${out}/part-0000${p}`));
    const keys = (await store.list(`${out}/`)).entries.map((e) => e.uri.slice(out.length + 1)).sort();
    expect(keys).toEqual(['_SUCCESS', 'part-00000', 'part-00001', 'part-00002']);
    const saved = (await (await Session.local().textFile(out)).collect()).map((l) => JSON.parse(l) as [string, number]);
    const local = await (await words(Session.local(), join(dir, '*.txt'))).map((w) => [w, 1] as [string, number]).reduceByKey((a, b) => a + b, 3).collect();
    expect(byKey(saved)).toEqual(byKey(local));
    await expect(counts.saveAsTextFile(out)).rejects.toThrow(/already exists/);
  }, 180_000);

  test("user code runs under the task's time limit: an endless loop fails the job with the sandbox's message", async () => {
    const session = connect({ maxAttempts: 1, taskTimeoutMs: 3000 });
    const lines = await session.textFile(`s3://${stack.bucket}/corpus/part-2.txt`);
    const spin = lines.mapPartitions((rs) => {
      for (;;) if (rs.length < 0) break;
      return rs;
    });
    await expect(spin.count()).rejects.toThrow(/task for partition 0 ran longer than its limit of 2700 ms \(in mapPartitions\)/);
  }, 120_000);

  test('a captured variable is refused when the RDD is built; local text files and in-memory DataFrames are refused before a job', async () => {
    const session = connect();
    const lines = await session.textFile(`s3://${stack.bucket}/corpus/part-1.txt`);
    const factor = 3;
    expect(() => lines.map((l) => l.length * factor)).toThrow(AnalysisError);
    expect(() => lines.map((l) => l.length * factor)).toThrow(
      "the function passed to map() uses the variable 'factor' from the surrounding scope, which executors cannot see: functions are shipped as source text and run in a fresh context. Pass the values as the context argument and read them from the function's last parameter, e.g. rdd.map((x, ctx) => ... ctx.factor ..., { factor })",
    );
    expect(await lines.map((l, ctx) => l.length * ctx.factor, { factor }).first()).toBe((await lines.first()).length * 3);
    const localLines = await session.textFile(join(dir, 'part-0.txt'));
    await expect(localLines.count()).rejects.toThrow(UnsupportedError);
    await expect(session.createDataFrame([{ a: 1 }]).rdd.count()).rejects.toThrow(/this DataFrame reads rows held in this process/);
  }, 120_000);
});
