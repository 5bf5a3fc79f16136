// Reading s3:// paths against a real s3rver (the local stack): Parquet, CSV and NDJSON give the same values as
// the same local files, through files, directories and globs, in every planning mode; Parquet reads only the
// needed column chunks with a few coalesced ranged GETs (counted at the server); missing objects are
// DataErrors naming the URI; scan task sizes come from HEADs.
import * as fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Session, col } from '../../core/sdk/index.ts';
import { S3ObjectStore } from '../../core/io/object-store.ts';
import { s3FileStore, setS3Store } from '../../core/io/s3-file-store.ts';
import { expandPaths } from '../../core/io/paths.ts';
import { parquetMetadata } from '../../core/io/parquet-reader.ts';
import { DataError } from '../../core/types/errors.ts';
import { type LocalStack, type S3RequestInfo, startLocalStack } from '../../infra/local-stack/index.ts';
import { duck, tempDir } from './helpers.ts';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const SOURCE = `
SELECT
  i::BIGINT AS id,
  CASE WHEN i % 7 = 0 THEN NULL ELSE (i * 100003 - 200000000)::INTEGER END AS i32,
  CASE WHEN i % 7 = 2 THEN NULL ELSE i / 3.0 - 100 END::DOUBLE AS f64,
  CASE WHEN i % 7 = 3 THEN NULL ELSE ((i - 1500) * 123456.789)::DECIMAL(18,3) END AS dec,
  CASE WHEN i % 7 = 4 THEN NULL ELSE DATE '1965-03-01' + (i * 11)::INTEGER END AS dt,
  TIMESTAMP '1969-12-31 23:00:00' + INTERVAL (i * 1234567) MICROSECOND AS ts,
  CASE WHEN i % 7 = 5 THEN NULL WHEN i % 9 = 1 THEN 'comma, "quote"' ELSE 'val_' || (i % 17) || 'é' END AS s,
  CASE WHEN i % 7 = 6 THEN NULL ELSE i % 3 = 0 END AS b
FROM range(0, 3000) t(i)`;

// A wide file for the ranged-read counts: 12 double columns, 8 row groups of 50,000 rows (~400 KB a chunk).
const WIDE_ROWS = 400_000;
const WIDE = `SELECT i::BIGINT AS id, ${Array.from({ length: 12 }, (_, k) => `(hash(i * ${k + 3}) % 1000000007)::DOUBLE / 7 AS c${k}`).join(', ')}
FROM range(0, ${WIDE_ROWS}) t(i)`;

let stack: LocalStack;
let store: S3ObjectStore;
let dir: string;
let bucket: string;
const requests: S3RequestInfo[] = [];

async function upload(local: string, key: string): Promise<string> {
  const uri = `s3://${bucket}/${key}`;
  await store.put(uri, fs.readFileSync(local));
  return uri;
}

beforeAll(async () => {
  stack = await startLocalStack({ logs: 'silent' });
  bucket = stack.bucket;
  store = S3ObjectStore.fromEndpoints(stack.endpoints());
  setS3Store(store);
  stack.s3.onRequest((r) => requests.push(r));
  dir = tempDir('squall-s3read-');
  const db = await duck();
  try {
    await db.c.run(`COPY (${SOURCE}) TO '${dir}/src.parquet' (FORMAT parquet, ROW_GROUP_SIZE 1000)`);
    await db.c.run(`COPY (${SOURCE}) TO '${dir}/src.csv' (FORMAT csv, HEADER true)`);
    await db.c.run(`COPY (${SOURCE}) TO '${dir}/src.json' (FORMAT json)`);
    fs.mkdirSync(`${dir}/parts`);
    for (let k = 0; k < 3; k++) {
      await db.c.run(`COPY (${SOURCE} WHERE i % 3 = ${k}) TO '${dir}/parts/part-${k}.parquet' (FORMAT parquet)`);
    }
    await db.c.run(`COPY (${WIDE}) TO '${dir}/wide.parquet' (FORMAT parquet, ROW_GROUP_SIZE 50000, COMPRESSION uncompressed)`);
  } finally {
    db.close();
  }
  await upload(`${dir}/src.parquet`, 'read/src.parquet');
  await upload(`${dir}/src.csv`, 'read/src.csv');
  await upload(`${dir}/src.json`, 'read/src.json');
  for (let k = 0; k < 3; k++) await upload(`${dir}/parts/part-${k}.parquet`, `read/parts/part-${k}.parquet`);
  await store.put(`s3://${bucket}/read/parts/_SUCCESS`, '');
  await upload(`${dir}/wide.parquet`, 'read/wide.parquet');
}, 60_000);

afterAll(async () => {
  setS3Store(null);
  store?.destroy();
  await stack?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

const sortById = (rows: Record<string, unknown>[]) => [...rows].sort((a, b) => Number(a['id']) - Number(b['id']));

describe('s3:// reads equal local reads', () => {
  for (const planning of ['local', 'stages'] as const) {
    test(`parquet, csv and json (${planning})`, async () => {
      const session = Session.local({ planning, stages: { targetBytesPerTask: 20_000 } });
      const pairs = [
        [await session.read.parquet(`${dir}/src.parquet`), await session.read.parquet(`s3://${bucket}/read/src.parquet`)],
        [await session.read.csv(`${dir}/src.csv`), await session.read.csv(`s3://${bucket}/read/src.csv`)],
        [await session.read.json(`${dir}/src.json`), await session.read.json(`s3://${bucket}/read/src.json`)],
      ] as const;
      for (const [local, remote] of pairs) {
        expect(remote.schema).toEqual(local.schema);
        const want = sortById(await local.collect());
        expect(want.length).toBe(3000);
        expect(sortById(await remote.collect())).toEqual(want);
      }
    });
  }

  test('a directory (bookkeeping files skipped), a glob and s3a://, with a filter', async () => {
    const session = Session.local();
    const local = await session.read.parquet(`${dir}/parts`);
    const want = sortById(await local.filter(col('id').gt(1234)).collect());
    for (const p of [`s3://${bucket}/read/parts`, `s3://${bucket}/read/parts/`, `s3://${bucket}/read/parts/*.parquet`, `s3a://${bucket}/read/p*/part-?.parquet`]) {
      const df = await session.read.parquet(p);
      expect(sortById(await df.filter(col('id').gt(1234)).collect()), p).toEqual(want);
    }
    expect(await expandPaths(`s3://${bucket}/read/parts`)).toEqual([0, 1, 2].map((k) => `s3://${bucket}/read/parts/part-${k}.parquet`));
  });

  test('statistics from S3 footers prune row groups as locally', async () => {
    const md = await parquetMetadata(`s3://${bucket}/read/src.parquet`);
    expect(md).toEqual({ ...(await parquetMetadata(`${dir}/src.parquet`)), path: `s3://${bucket}/read/src.parquet` });
    expect(md.rowGroups.length).toBeGreaterThan(1);
    expect(md.rowGroups[0]!.columns.get('id')).toMatchObject({ min: 0 });
    expect(Number(md.rowGroups[1]!.columns.get('id')!.min)).toBeGreaterThanOrEqual(500);
    const session = Session.local();
    const df = (await session.read.parquet(`s3://${bucket}/read/src.parquet`)).filter(col('id').lt(500)).select('id', 's');
    requests.length = 0;
    const rows = await df.collect();
    expect(rows.length).toBe(500);
    // Only the first row group's two chunks were fetched: one ranged GET (the footer is cached by ETag).
    const gets = requests.filter((r) => r.operation === 'GetObject');
    expect(gets.length).toBe(1);
    expect(gets[0]!.range).toMatch(/^bytes=\d+-\d+$/);
  });
});

describe('Parquet column reads use a few coalesced ranged GETs', () => {
  test('3 of 13 columns of a 40 MB file', async () => {
    const uri = `s3://${bucket}/read/wide.parquet`;
    const size = fs.statSync(`${dir}/wide.parquet`).size;
    expect(size).toBeGreaterThan(35 << 20);
    const session = Session.local();
    const columns = ['id', 'c1', 'c3'];
    const want = await (await session.read.parquet(`${dir}/wide.parquet`)).select(...columns).toArrow();
    requests.length = 0;
    const got = await (await session.read.parquet(uri)).select(...columns).toArrow();
    const gets = requests.filter((r) => r.operation === 'GetObject');
    const heads = requests.filter((r) => r.operation === 'HeadObject');
    // Every GET is an explicit first-last range, and none is the whole file.
    const spans = gets.map((r) => {
      const m = /^bytes=(\d+)-(\d+)$/.exec(r.range ?? '');
      expect(m, `GET without an explicit range: ${JSON.stringify(r)}`).not.toBeNull();
      return Number(m![2]) - Number(m![1]) + 1;
    });
    expect(Math.max(...spans)).toBeLessThan(size / 2);
    const read = spans.reduce((a, b) => a + b, 0);
    // 8 row groups × 3 chunks = 24 column chunks (c1 and c3 are one 400 KB column apart, id two): coalesced into
    // one request per row group at most, plus one footer GET.
    expect(gets.length).toBeLessThanOrEqual(8 + 1);
    expect(read).toBeLessThan(size * 0.45);
    // HEADs: path expansion, schema, statistics and the scan each check the object (footers are cached by ETag).
    expect(heads.length).toBeLessThanOrEqual(4);
    console.log(`wide.parquet ${size} B, 3/13 columns: ${gets.length} GETs (${spans.join(', ')} B), ${heads.length} HEADs, ${read} B read`);
    expect(got.numRows).toBe(WIDE_ROWS);
    for (const c of columns) {
      const a = got.getChild(c)!.toArray();
      const b = want.getChild(c)!.toArray();
      expect(Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength)), c).toBe(true);
    }
  });

  test('all columns: adjacent chunks of consecutive row groups merge into requests of at most 16 MB', async () => {
    const uri = `s3://${bucket}/read/wide.parquet`;
    const size = fs.statSync(`${dir}/wide.parquet`).size;
    const session = Session.local();
    const df = await session.read.parquet(uri);
    requests.length = 0;
    const t = await df.toArrow();
    expect(t.numRows).toBe(WIDE_ROWS);
    expect(t.numCols).toBe(13);
    const spans = requests
      .filter((r) => r.operation === 'GetObject')
      .map((r) => {
        const m = /^bytes=(\d+)-(\d+)$/.exec(r.range ?? '')!;
        return Number(m[2]) - Number(m[1]) + 1;
      });
    console.log(`wide.parquet ${size} B, all columns: ${spans.length} GETs (${spans.join(', ')} B)`);
    // 8 row groups × 13 chunks = 104 column chunks in windows of 32 MB: a handful of requests of ≤ 16 MB.
    expect(spans.length).toBeLessThanOrEqual(6);
    expect(Math.max(...spans)).toBeLessThanOrEqual(16 << 20);
    expect(spans.reduce((a, b) => a + b, 0)).toBeLessThan(size);
  });

  test('the in-thread decoder reads the same bytes (worker and calling-thread paths agree)', async () => {
    const { scanParquet } = await import('../../core/io/parquet-reader.ts');
    const uri = `s3://${bucket}/read/wide.parquet`;
    const sums = async (threads: number) => {
      let n = 0;
      let s = 0;
      for await (const b of scanParquet([uri], { columns: ['c5', 'c6'], threads, decoder: 'squall' })) {
        n += b.numRows;
        const v = b.getChild('c6')!.toArray() as Float64Array;
        for (let i = 0; i < v.length; i++) s += v[i]!;
      }
      return { n, s };
    };
    const workers = await sums(2);
    expect(workers.n).toBe(WIDE_ROWS);
    expect(await sums(0)).toEqual(workers);
  });
});

describe('the parquet-wasm path over S3', () => {
  test('reads the whole object into a Blob and decodes the same values', async () => {
    const { scanParquet } = await import('../../core/io/parquet-reader.ts');
    const uri = `s3://${bucket}/read/src.parquet`;
    const rows = async (decoder: 'squall' | 'parquet-wasm') => {
      const out: unknown[] = [];
      for await (const b of scanParquet([uri], { columns: ['id', 'dec', 's'], decoder, threads: 0 })) {
        for (let i = 0; i < b.numRows; i++) out.push([Number(b.getChild('id')!.get(i)), String(b.getChild('dec')!.get(i)), b.getChild('s')!.get(i)]);
      }
      return out;
    };
    const wasm = await rows('parquet-wasm');
    expect(wasm.length).toBe(3000);
    expect(wasm).toEqual(await rows('squall'));
  });
});

describe('errors and sizes', () => {
  test('a missing object is a DataError naming its URI', async () => {
    const session = Session.local();
    for (const read of [
      () => session.read.parquet(`s3://${bucket}/read/nope.parquet`),
      () => session.read.csv(`s3://${bucket}/read/nope.csv`),
      () => session.read.json(`s3://${bucket}/nope/*.json`),
    ]) {
      const e = await read().then(
        () => null,
        (x: unknown) => x,
      );
      expect(e).toBeInstanceOf(DataError);
      expect((e as Error).message).toContain(`s3://${bucket}/`);
      expect((e as Error).message).toMatch(/nope/);
    }
    // A file that vanishes after planning fails at read time, naming it.
    await store.put(`s3://${bucket}/read/gone.csv`, 'a,b\n1,2\n');
    const df = await session.read.csv(`s3://${bucket}/read/gone.csv`);
    await store.delete([`s3://${bucket}/read/gone.csv`]);
    await expect(df.collect()).rejects.toThrow(`s3://${bucket}/read/gone.csv`);
  });

  test('task sizes for s3:// inputs come from HEAD requests', async () => {
    const { scannedFileSizes } = await import('../../core/physical/stages.ts');
    const session = Session.local({ planning: 'stages', stages: { targetBytesPerTask: 5 << 20 } });
    const df = await session.read.parquet(`s3://${bucket}/read/wide.parquet`);
    const { createPhysicalPlan, DISTRIBUTED_PLANNING } = await import('../../core/physical/planner.ts');
    const { optimize } = await import('../../core/optimizer/optimize.ts');
    const sizes = await scannedFileSizes(createPhysicalPlan(optimize(df.plan), DISTRIBUTED_PLANNING));
    expect([...sizes]).toEqual([[`s3://${bucket}/read/wide.parquet`, fs.statSync(`${dir}/wide.parquet`).size]]);
    // Split into tasks by row group over S3: the count is still every row.
    expect(await df.select('c0').count()).toBe(WIDE_ROWS);
    expect(s3FileStore().remote).toBe(true);
  });

  test('without a registered store, s3:// paths use the environment (SQUALL_S3_ENDPOINT, AWS_*)', async () => {
    const saved = { ...process.env };
    setS3Store(null);
    try {
      Object.assign(process.env, stack.env());
      const fromEnv = s3FileStore();
      expect(fromEnv.made).toBeUndefined(); // the AWS SDK loads on first use
      const df = await Session.local().read.csv(`s3://${bucket}/read/src.csv`);
      expect(await df.count()).toBe(3000);
      expect(fromEnv.made).toBeInstanceOf(S3ObjectStore);
      (fromEnv.made as S3ObjectStore).destroy();
    } finally {
      for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
      Object.assign(process.env, saved);
      setS3Store(store);
    }
  });
});
