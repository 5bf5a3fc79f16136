// RDDs in-process: word count against a plain-JS reference, map-side combining measured in shuffle bytes,
// function shipping (capture rejection, context argument, user errors with their line), pair operations,
// partitioning, sampling, text files and the atomic saveAsTextFile.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Session, UserFunctionError } from '../../core/sdk/index.ts';
import { AnalysisError } from '../../core/types/errors.ts';

let dir: string;
let corpus: string;
let reference: Map<string, number>;

/** A deterministic corpus: ~30k words from a 300-word vocabulary (skewed), 12 words a line. */
function makeCorpus(file: string): Map<string, number> {
  let seed = 12345;
  const rand = () => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed / 4294967296;
  };
  const vocab = Array.from({ length: 300 }, (_, i) => `w${i.toString(36)}${'xyz'[i % 3]}`);
  const counts = new Map<string, number>();
  const lines: string[] = [];
  for (let l = 0; l < 2500; l++) {
    const words: string[] = [];
    for (let i = 0; i < 12; i++) {
      const w = vocab[Math.floor(rand() * rand() * vocab.length)]!;
      words.push(w);
      counts.set(w, (counts.get(w) ?? 0) + 1);
    }
    lines.push(words.join(' '));
  }
  fs.writeFileSync(file, lines.join('\n') + '\n');
  return counts;
}

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'squall-rdd-'));
  corpus = path.join(dir, 'corpus.txt');
  reference = makeCorpus(corpus);
});

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('word count', () => {
  test('over a text file in splits equals a plain-JS count', async () => {
    const session = Session.local();
    const lines = await session.textFile(corpus, { splitBytes: 16 << 10 });
    expect(lines.getNumPartitions()).toBeGreaterThan(5);
    expect(await lines.count()).toBe(2500);
    const counts = lines
      .flatMap((line) => line.split(' '))
      .map((w) => [w, 1] as [string, number])
      .reduceByKey((a, b) => a + b, 3);
    const got = new Map(await counts.collect());
    expect(got).toEqual(reference);
    expect(counts.lastMetrics!.shuffles).toBe(1);
  });

  test('reduceByKey (map-side combining) shuffles far fewer bytes than groupByKey', async () => {
    const session = Session.local();
    const pairs = (await session.textFile(corpus, { splitBytes: 16 << 10 })).flatMap((line) => line.split(' ')).map((w) => [w, 1] as [string, number]);
    const reduced = pairs.reduceByKey((a, b) => a + b, 4);
    const grouped = pairs.groupByKey(4).mapValues((vs) => vs.length);
    const r = new Map(await reduced.collect());
    const g = new Map(await grouped.collect());
    expect(r).toEqual(g);
    const rb = reduced.lastMetrics!.shuffleBytesWritten;
    const gb = grouped.lastMetrics!.shuffleBytesWritten;
    expect(rb).toBeGreaterThan(0);
    // 30000 words over 300 distinct ones in ~8 map tasks: at most 300 records per task after combining.
    expect(rb / gb).toBeLessThan(0.25);
    expect(reduced.lastMetrics!.shuffleRecordsWritten).toBeLessThan(grouped.lastMetrics!.shuffleRecordsWritten / 4);
  });
});

describe('shipping functions', () => {
  test('a function that captures a variable is rejected when the RDD is built, naming it', () => {
    const session = Session.local();
    const rdd = session.parallelize([1, 2, 3]);
    const factor = 3;
    expect(() => rdd.map((x) => x * factor)).toThrow(
      new AnalysisError(
        "the function passed to map() uses the variable 'factor' from the surrounding scope, which executors cannot see: " +
          'functions are shipped as source text and run in a fresh context. Pass the values as the context argument and ' +
          "read them from the function's last parameter, e.g. rdd.map((x, ctx) => ... ctx.factor ..., { factor })",
      ),
    );
    const offset = 1;
    expect(() => rdd.filter((x) => x > offset && x < factor)).toThrow(/uses the variables 'offset' and 'factor'.*\{ offset, factor \}/);
    const pairs = session.parallelize([['a', 1]] as [string, number][]);
    expect(() => pairs.reduceByKey((a, b) => a + b * factor)).toThrow(/reduceByKey\(\) uses the variable 'factor'.*rdd\.reduceByKey\(\(a, b, ctx\) => \.\.\. ctx\.factor \.\.\., \{ factor \}\)/);
  });

  test('globals, parameters, locals, destructuring and nested functions are not captures', async () => {
    const session = Session.local();
    const rdd = session.parallelize([{ a: 1, b: [2, 3] }, { a: 4, b: [5] }], 2);
    const out = rdd.map(({ a, b: [first, ...rest] }) => {
      const sq = (v: number) => Math.pow(v, 2);
      let total = 0;
      for (const r of rest) total += r;
      function twice(v: number): number {
        return v * 2;
      }
      try {
        JSON.parse('{');
      } catch (err) {
        total += err instanceof SyntaxError ? 100 : 0;
      }
      // @ts-expect-error: a name that is not defined anywhere, only asked about with typeof
      if (typeof process !== 'undefined' || typeof notDefinedAnywhere !== 'undefined') total = -1;
      return { s: sq(a) + twice(first!) + total, keys: Object.keys({ a, first }) };
    });
    expect(await out.collect()).toEqual([
      { s: 1 + 4 + 3 + 100, keys: ['a', 'first'] },
      { s: 16 + 10 + 100, keys: ['a', 'first'] },
    ]);
  });

  test('methods and generator functions ship too; async ones are refused', async () => {
    const session = Session.local();
    const rdd = session.parallelize([1, 2, 3], 2);
    const helpers = {
      inc(x: number) {
        return x + 1;
      },
      *twice(records: number[]) {
        for (const r of records) yield r, yield r;
      },
      async later(x: number) {
        return x;
      },
    };
    expect(await rdd.map(helpers.inc).collect()).toEqual([2, 3, 4]);
    expect(await rdd.mapPartitions(helpers.twice).collect()).toEqual([1, 1, 2, 2, 3, 3]);
    expect(() => rdd.map(helpers.later)).toThrow(/map\(\) got an async function/);
  });

  test('values reach the function through the context argument', async () => {
    const session = Session.local();
    const factor = 3;
    const rdd = session.parallelize([1, 2, 3, 4], 2);
    expect(await rdd.map((x, ctx) => x * ctx.factor, { factor }).collect()).toEqual([3, 6, 9, 12]);
    const lookup = new Map([[1, 'one'], [2, 'two']]);
    expect(await rdd.filter((x, ctx) => ctx.lookup.has(x), { lookup }).map((x) => `${x}`).collect()).toEqual(['1', '2']);
    const pairs = session.parallelize([['a', 1], ['a', 2], ['b', 5]] as [string, number][], 2);
    expect(new Map(await pairs.reduceByKey((a, b, ctx) => (a + b) * ctx.w, { w: 1 }).collect())).toEqual(new Map([['a', 3], ['b', 5]]));
    // Each task gets its own copy: mutation does not leak between tasks or back to the driver.
    const ctx = { seen: [] as number[] };
    const sizes = await rdd.mapPartitions((records, c) => {
      for (const r of records) c.seen.push(r);
      return [c.seen.length];
    }, ctx).collect();
    expect(sizes).toEqual([2, 2]);
    expect(ctx.seen).toEqual([]);
  });

  test('context values that cannot be serialized are rejected clearly', () => {
    const session = Session.local();
    const rdd = session.parallelize([1]);
    expect(() => rdd.map((x, c) => c.f(x), { f: (v: number) => v })).toThrow(/the context of map\(\) holds a function \(f\) at ctx\.f; values passed to executors must be structured-clone serializable/);
    expect(() => rdd.map((x) => x, { nested: { s: Symbol('k') } })).toThrow(/holds a symbol \(Symbol\(k\)\) at ctx\.nested\.s/);
    expect(() => rdd.map(Math.abs)).toThrow(/built-in or bound function \(abs\)/);
    expect(() => rdd.map(async (x) => x)).toThrow(/async function/);
  });

  test('an exception in user code fails the task with the user message and the line in the function', async () => {
    const session = Session.local();
    const rdd = session.parallelize([1, 2, 3, 4], 2);
    const failing = rdd.map((x) => {
      const y = x * 2;
      if (y === 6) throw new RangeError(`bad value ${x}`);
      return y;
    });
    const err = await failing.collect().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserFunctionError);
    const e = err as UserFunctionError;
    expect(e.op).toBe('map');
    expect(e.line).toBe(3);
    expect(e.partition).toBe(1);
    expect(e.message).toMatch(/^the function passed to map\(\) threw: RangeError: bad value 3 \(line 3 of the function: if \(y === 6\) throw new RangeError\(`bad value \$\{x\}`\);\)$/);
    // Records that are not [key, value] pairs fail at run time with a message naming the record.
    const pairs = session.parallelize([1, 2]);
    const notPair = (pairs as unknown as ReturnType<typeof session.parallelize<[number, number]>>).mapValues((v) => v);
    await expect(notPair.collect()).rejects.toThrow(/mapValues\(\) works on pair RDDs of \[key, value\] arrays; got the record 1/);
  });

  test("user code's console writes to the executor's console", async () => {
    const { vi } = await import('vitest');
    const spy = vi.spyOn(console, 'log').mockImplementation(() => {});
    try {
      const session = Session.local();
      await session.parallelize([1, 2], 1).foreachPartition((records) => console.log('partition', records.length));
      expect(spy).toHaveBeenCalledWith('partition', 2);
    } finally {
      spy.mockRestore();
    }
  });

  test('a task that runs past its time limit is stopped', async () => {
    const session = Session.local();
    const { rddState } = await import('../../core/rdd/index.ts');
    rddState(session).sandbox.timeoutMs = 200;
    const rdd = session.parallelize([1], 1).map((x) => {
      for (;;) x++;
    });
    await expect(rdd.collect()).rejects.toThrow(/ran longer than its limit of 200 ms \(in map\)/);
  });
});

describe('pair operations and partitioning', () => {
  const session = Session.local();

  test('join and leftOuterJoin match keys by structure', async () => {
    const left = session.parallelize([[1, 'a'], [2, 'b'], [1, 'c'], [[7, 'x'], 'tuple']] as [unknown, string][], 3);
    const right = session.parallelize([[1, 'X'], [3, 'Y'], [[7, 'x'], 'T']] as [unknown, string][], 2);
    const sort = (rows: unknown[]) => rows.map((r) => JSON.stringify(r)).sort();
    expect(sort(await left.join(right).collect())).toEqual(sort([[1, ['a', 'X']], [1, ['c', 'X']], [[7, 'x'], ['tuple', 'T']]]));
    expect(sort(await left.leftOuterJoin(right).collect())).toEqual(sort([[1, ['a', 'X']], [1, ['c', 'X']], [2, ['b', null]], [[7, 'x'], ['tuple', 'T']]]));
    expect(left.join(right).getNumPartitions()).toBe(3);
    expect(left.join(right, 5).getNumPartitions()).toBe(5);
  });

  test('distinct, union, keys/values, aggregateByKey, countByKey', async () => {
    const a = session.parallelize([1, 2, 2, 3, 0, -0, { k: [1] }, { k: [1] }], 3);
    const d = await a.distinct().collect();
    expect(d.length).toBe(5);
    expect(await a.union(session.parallelize([9], 1)).count()).toBe(9);
    expect(a.union(session.parallelize([9], 1)).getNumPartitions()).toBe(4);
    const pairs = session.parallelize([['x', 1], ['y', 2], ['x', 3]] as [string, number][], 2);
    const agg = pairs.aggregateByKey({ n: 0, sum: 0 }, (acc, v) => ({ n: acc.n + 1, sum: acc.sum + v }), (p, q) => ({ n: p.n + q.n, sum: p.sum + q.sum }));
    expect(new Map(await agg.collect())).toEqual(new Map([['x', { n: 2, sum: 4 }], ['y', { n: 1, sum: 2 }]]));
    expect(await pairs.countByKey()).toEqual(new Map([['x', 2], ['y', 1]]));
    expect((await pairs.keys().collect()).sort()).toEqual(['x', 'x', 'y']);
    expect(await pairs.values().fold(0, (p, q) => p + q)).toBe(6);
    expect(await pairs.values().reduce((p, q) => Math.max(p, q))).toBe(3);
    await expect(session.parallelize([] as number[]).reduce((p, q) => p + q)).rejects.toThrow(/reduce\(\) of an empty RDD/);
  });

  test('sortBy sorts across range partitions, both directions', async () => {
    const values = Array.from({ length: 500 }, (_, i) => (i * 7919) % 1000);
    const rdd = session.parallelize(values, 5);
    const asc = rdd.sortBy((x) => x, true, 4);
    expect(asc.getNumPartitions()).toBe(4);
    expect(await asc.collect()).toEqual([...values].sort((p, q) => p - q));
    expect(await rdd.sortBy((x) => x, false).collect()).toEqual([...values].sort((p, q) => q - p));
    const words = session.parallelize(['pear', 'apple', 'fig', 'kiwi'], 2);
    expect(await words.sortBy((w) => [w.length, w]).collect()).toEqual(['fig', 'kiwi', 'pear', 'apple']);
    expect(await session.parallelize([[3, 'c'], [1, 'a'], [2, 'b']] as [number, string][], 2).sortByKey(false).collect()).toEqual([[3, 'c'], [2, 'b'], [1, 'a']]);
  });

  test('sample is deterministic for a seed', async () => {
    const rdd = session.parallelize(Array.from({ length: 2000 }, (_, i) => i), 4);
    const a = await rdd.sample(false, 0.1, 42).collect();
    const b = await rdd.sample(false, 0.1, 42).collect();
    const c = await rdd.sample(false, 0.1, 43).collect();
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    expect(a.length).toBeGreaterThan(120);
    expect(a.length).toBeLessThan(280);
    const w = await rdd.sample(true, 0.5, 7).collect();
    expect(w).toEqual(await rdd.sample(true, 0.5, 7).collect());
  });

  test('coalesce and repartition give the asked partition counts and keep every record', async () => {
    const rdd = session.parallelize(Array.from({ length: 100 }, (_, i) => i), 8);
    const co = rdd.coalesce(3);
    expect(co.getNumPartitions()).toBe(3);
    expect(await co.collect()).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(rdd.coalesce(20).getNumPartitions()).toBe(8);
    expect(await rdd.coalesce(20).glom().collect()).toHaveLength(8);
    const re = rdd.repartition(5);
    expect(re.getNumPartitions()).toBe(5);
    const parts = await re.glom().collect();
    expect(parts).toHaveLength(5);
    for (const p of parts) expect(p.length).toBeGreaterThanOrEqual(15);
    expect(parts.flat().sort((p, q) => p - q)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(await rdd.take(3)).toEqual([0, 1, 2]);
    expect(await rdd.first()).toBe(0);
  });
});

describe('files and DataFrames', () => {
  test('textFile splits keep every line whole, whatever the split size', async () => {
    const session = Session.local();
    const file = path.join(dir, 'lines.txt');
    const lines = Array.from({ length: 300 }, (_, i) => `line ${i} ${'é'.repeat(i % 7)}`);
    fs.writeFileSync(file, lines.join('\r\n'));
    for (const splitBytes of [1, 7, 64, 1000, 1 << 20]) {
      const rdd = await session.textFile(file, { splitBytes });
      expect(await rdd.collect()).toEqual(lines);
    }
    // A gzip file is one split, read whole.
    const { gzipSync } = await import('node:zlib');
    fs.writeFileSync(`${file}.gz`, gzipSync(lines.join('\n') + '\n'));
    const gz = await session.textFile(`${file}.gz`, { splitBytes: 64 });
    expect(gz.getNumPartitions()).toBe(1);
    expect(await gz.collect()).toEqual(lines);
  });

  test('saveAsTextFile commits atomically and fails on an existing path', async () => {
    const session = Session.local();
    const out = path.join(dir, 'out');
    const rdd = session.parallelize([1, 'two', { three: 3 }, [4]], 2);
    const { files } = await rdd.saveAsTextFile(out);
    expect(files.map((f) => path.basename(f))).toEqual(['part-00000', 'part-00001']);
    expect(fs.readdirSync(out).sort()).toEqual(['_SUCCESS', 'part-00000', 'part-00001']);
    expect(fs.readFileSync(path.join(out, 'part-00000'), 'utf8')).toBe('1\ntwo\n');
    expect(fs.readFileSync(path.join(out, 'part-00001'), 'utf8')).toBe('{"three":3}\n[4]\n');
    expect(await (await session.textFile(out)).collect()).toEqual(['1', 'two', '{"three":3}', '[4]']);
    await expect(rdd.saveAsTextFile(out)).rejects.toThrow(/already exists/);
    // A failing partition leaves nothing at the target, and no temporary directory behind.
    const failing = path.join(dir, 'failing');
    const bad = session.parallelize([1, 2, 3, 4], 2).map((x) => {
      if (x === 4) throw new Error('boom');
      return x;
    });
    await expect(bad.saveAsTextFile(failing)).rejects.toThrow(/boom/);
    expect(fs.existsSync(failing)).toBe(false);
    expect(fs.readdirSync(dir).filter((n) => n.startsWith('.squall-tmp'))).toEqual([]);
  });

  test('df.rdd gives rows as objects and rdd.toDF makes a DataFrame again', async () => {
    const session = Session.local();
    const df = session.createDataFrame([{ k: 'a', v: 1 }, { k: 'b', v: 2 }, { k: 'a', v: 5 }]);
    const sums = df.rdd.map((r) => [r['k'], r['v']] as [string, number]).reduceByKey((a, b) => a + b);
    const back = await sums.toDF(['k', 'total']);
    expect(back.columns).toEqual(['k', 'total']);
    expect((await back.orderBy('k').collect()).map((r) => [r['k'], Number(r['total'])])).toEqual([['a', 6], ['b', 2]]);
    const objects = await df.rdd.filter((r) => Number(r['v']) > 1).toDF();
    expect(await objects.count()).toBe(2);
    expect((await (await session.parallelize([1.5, 2.5]).toDF()).collect()).map((r) => r['value'])).toEqual([1.5, 2.5]);
  });

  test('foreachPartition runs once per partition; lineage prints', async () => {
    const session = Session.local();
    const rdd = session.parallelize([1, 2, 3], 3).map((x) => x + 1);
    await rdd.foreachPartition((records) => {
      if (records.length !== 1) throw new Error('expected one record per partition');
    });
    expect(rdd.lastMetrics!.tasks).toBe(3);
    expect(rdd.reduceByKey === undefined).toBe(false);
    expect(rdd.toDebugString()).toMatch(/MapPartitionsRDD \[map\][\s\S]*ParallelCollectionRDD/);
  });
});

describe('tasks away from the driver', () => {
  test('lineage as JSON computes the same partitions in another process (functions rebuilt from source text)', async () => {
    const { spawnSync } = await import('node:child_process');
    const { rddTaskToJson } = await import('../../core/rdd/index.ts');
    const session = Session.local();
    const lines = await session.textFile(corpus, { splitBytes: 64 << 10 });
    const counts = lines
      .flatMap((line) => line.split(' '))
      .filter((w, ctx) => !ctx.skip.includes(w), { skip: ['w1x', 'w2y'] })
      .map((w) => [w, 1] as [string, number])
      .reduceByKey((a, b) => a + b, 3)
      .join(session.parallelize([['w0x', 'first'], ['w3x', 'fourth']] as [string, string][], 2))
      .mapValues(([n, label], ctx) => `${label}${ctx.sep}${n}`, { sep: '=' });
    const expected = await counts.glom().collect();
    const tasks = expected.map((_, partition) => rddTaskToJson({ version: 1, node: counts.node, partition, steps: [] }));
    const child = spawnSync(process.execPath, ['--import', 'tsx', path.join(__dirname, 'fixtures/run-rdd-tasks.mts')], {
      input: tasks.join('\n') + '\n',
      encoding: 'utf8',
      timeout: 240_000,
    });
    expect(child.stderr).not.toMatch(/Error/);
    const results = child.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { ok?: unknown[]; error?: string });
    expect(results.map((r) => r.ok)).toEqual(expected);
    expect(new Map(expected.flat())).toEqual(new Map([['w0x', `first=${reference.get('w0x')}`], ['w3x', `fourth=${reference.get('w3x')}`]]));
  }, 300_000);
});

describe('more actions and pair operations', () => {
  const session = Session.local();

  test('cogroup, subtractByKey, intersection', async () => {
    const a = session.parallelize([['x', 1], ['y', 2], ['x', 3]] as [string, number][], 2);
    const b = session.parallelize([['x', 'p'], ['z', 'q']] as [string, string][], 3);
    const co = new Map(await a.cogroup(b).collect());
    expect(co).toEqual(new Map([['x', [[1, 3], ['p']]], ['y', [[2], []]], ['z', [[], ['q']]]]));
    expect(await a.subtractByKey(b).collect()).toEqual([['y', 2]]);
    const i = await session.parallelize([1, 2, 2, 3, [4]], 2).intersection(session.parallelize([2, 3, 3, [4], 5], 2)).collect();
    expect(i.map((x) => JSON.stringify(x)).sort()).toEqual(['2', '3', '[4]']);
  });

  test('collectAsMap, countByValue, sum, mean, min, max, top, takeOrdered', async () => {
    const nums = session.parallelize([5, 3, 9, 1, 7, 3], 3);
    expect(await nums.sum()).toBe(28);
    expect(await nums.mean()).toBeCloseTo(28 / 6);
    expect(await nums.max()).toBe(9);
    expect(await nums.min()).toBe(1);
    expect(await nums.top(2)).toEqual([9, 7]);
    expect(await nums.takeOrdered(3)).toEqual([1, 3, 3]);
    expect(await nums.countByValue()).toEqual(new Map([[5, 1], [3, 2], [9, 1], [1, 1], [7, 1]]));
    expect(await session.parallelize([['a', 1], ['a', 2], ['b', 3]] as [string, number][], 2).collectAsMap()).toEqual(new Map([['a', 2], ['b', 3]]));
    expect(await session.parallelize(['pear', 'fig'], 2).max()).toBe('pear');
    await expect(session.parallelize([] as number[], 2).max()).rejects.toThrow(/^max\(\) of an empty RDD$/);
    expect(await session.parallelize([] as number[], 2).sum()).toBe(0);
  });
});
