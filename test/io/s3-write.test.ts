// Writing s3:// outputs against a real s3rver (the local stack): DataFrame jobs that read s3:// and write s3://
// in each save mode and format read back equal to the same job on local files; the commit protocol (parts under
// _temporary/, copies, the _SUCCESS manifest last, old parts deleted after it) seen in the server's request
// log; a failing write leaves no objects under its target and does not disturb a committed output; readers
// honour the manifest and refuse uncommitted directories.
import * as fs from 'node:fs';
import * as arrow from 'apache-arrow';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Session, col, functions as F } from '../../core/sdk/index.ts';
import type { DataFrame } from '../../core/sdk/dataframe.ts';
import { S3ObjectStore } from '../../core/io/object-store.ts';
import { setS3Store } from '../../core/io/s3-file-store.ts';
import { expandPaths } from '../../core/io/paths.ts';
import { writeBatches } from '../../core/io/writers.ts';
import { DataError } from '../../core/types/errors.ts';
import { type LocalStack, type S3RequestInfo, startLocalStack } from '../../infra/local-stack/index.ts';
import { collect, duck, tempDir } from './helpers.ts';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const SOURCE = `
SELECT
  i::BIGINT AS id,
  i % 13 AS k,
  CASE WHEN i % 7 = 2 THEN NULL ELSE i / 3.0 - 100 END::DOUBLE AS f64,
  CASE WHEN i % 7 = 3 THEN NULL ELSE ((i - 1500) * 123.789)::DECIMAL(12,3) END AS dec,
  DATE '1995-03-01' + (i % 400)::INTEGER AS dt,
  CASE WHEN i % 7 = 5 THEN NULL WHEN i % 9 = 1 THEN 'comma, "quote"' ELSE 'val_' || (i % 17) || 'é' END AS s
FROM range(0, 5000) t(i)`;

let stack: LocalStack;
let store: S3ObjectStore;
let dir: string;
let bucket: string;
const requests: S3RequestInfo[] = [];

beforeAll(async () => {
  stack = await startLocalStack({ logs: 'silent' });
  bucket = stack.bucket;
  store = S3ObjectStore.fromEndpoints(stack.endpoints());
  setS3Store(store);
  stack.s3.onRequest((r) => requests.push(r));
  dir = tempDir('squall-s3write-');
  const db = await duck();
  try {
    await db.c.run(`COPY (${SOURCE}) TO '${dir}/src.parquet' (FORMAT parquet, ROW_GROUP_SIZE 2048)`);
  } finally {
    db.close();
  }
  await store.put(`s3://${bucket}/in/src.parquet`, fs.readFileSync(`${dir}/src.parquet`));
}, 60_000);

afterAll(async () => {
  setS3Store(null);
  store?.destroy();
  await stack?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

async function keys(prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of store.listAll(`s3://${bucket}/${prefix}`)) out.push(e.uri.slice(`s3://${bucket}/`.length));
  return out.sort();
}

const byId = (rows: Record<string, unknown>[]) => [...rows].sort((a, b) => Number(a['id']) - Number(b['id']) || Number(a['n'] ?? 0) - Number(b['n'] ?? 0));

/** The job: a filter and a projection with computed columns over the input. */
function job(df: DataFrame, lo: number, hi: number): DataFrame {
  return df
    .filter(col('id').geq(lo).and(col('id').lt(hi)))
    .select(col('id'), col('k'), col('f64'), col('dec'), col('dt'), col('s'), F.upper(col('s')).alias('u'));
}

async function readBack(session: Session, format: 'parquet' | 'csv' | 'json', path: string): Promise<Record<string, unknown>[]> {
  const df = format === 'parquet' ? await session.read.parquet(path) : format === 'csv' ? await session.read.csv(path) : await session.read.json(path);
  return byId(await df.collect());
}

describe('DataFrame jobs from s3:// to s3://', () => {
  for (const format of ['parquet', 'csv', 'json'] as const) {
    test(`${format}: error, ignore, overwrite and append read back as locally`, async () => {
      const session = Session.local({ planning: 'stages', stages: { targetBytesPerTask: 40_000 } });
      const input = await session.read.parquet(`s3://${bucket}/in/src.parquet`);
      const localInput = await session.read.parquet(`${dir}/src.parquet`);
      const out = `s3://${bucket}/out-${format}`;
      const localOut = `${dir}/out-${format}`;
      const write = async (df: DataFrame, path: string, mode: 'error' | 'overwrite' | 'append' | 'ignore') => {
        const w = df.write.mode(mode).option('maxRowsPerFile', 700);
        await (format === 'parquet' ? w.parquet(path) : format === 'csv' ? w.csv(path) : w.json(path));
      };
      const steps: [number, number, 'error' | 'overwrite' | 'append' | 'ignore'][] = [
        [0, 2000, 'error'],
        [2000, 2100, 'ignore'],
        [1000, 3000, 'overwrite'],
        [4000, 5000, 'append'],
      ];
      for (const [lo, hi, mode] of steps) {
        await write(job(input, lo, hi), out, mode);
        await write(job(localInput, lo, hi), localOut, mode);
        const want = await readBack(session, format, localOut);
        const got = await readBack(session, format, out);
        expect(got.length, `${mode}`).toBe(want.length);
        expect(got, `${format} after ${mode}`).toEqual(want);
      }
      expect((await readBack(session, format, out)).length).toBe(3000);
      // A second 'error' write fails and changes nothing.
      const before = await keys(`out-${format}/`);
      await expect(write(job(input, 0, 10), out, 'error')).rejects.toThrow(DataError);
      expect(await keys(`out-${format}/`)).toEqual(before);
      // No temporaries remain, overwritten parts are gone, and the manifest lists exactly the part objects.
      expect(before.some((k) => k.includes('_temporary'))).toBe(false);
      const manifest = JSON.parse(new TextDecoder().decode(await store.get(`${out}/_SUCCESS`))) as { files: string[] };
      expect(before.filter((k) => !k.endsWith('_SUCCESS')).map((k) => k.slice(`out-${format}/`.length))).toEqual(manifest.files);
    }, 30_000);
  }
});

describe('the commit protocol', () => {
  const batchOf = (from: number, n: number) => {
    const ids = BigInt64Array.from({ length: n }, (_, i) => BigInt(from + i));
    return new arrow.RecordBatch({ id: arrow.makeData({ type: new arrow.Int64(), length: n, data: ids }) });
  };
  const schema = { fields: [{ name: 'id', type: { kind: 'int64' }, nullable: false }] } as unknown as Parameters<typeof writeBatches>[1];

  test('parts go to _temporary/, are copied, _SUCCESS is written last and old parts deleted after it', async () => {
    const out = `s3://${bucket}/proto`;
    async function* three() {
      for (let i = 0; i < 3; i++) yield batchOf(i * 10, 10);
    }
    await writeBatches(three(), schema, out, 'parquet', 'error', { maxRowsPerFile: 10 });
    const first = await keys('proto/');
    expect(first.length).toBe(4);
    requests.length = 0;
    await writeBatches(three(), schema, out, 'parquet', 'overwrite', { maxRowsPerFile: 10 });
    const ops = requests.filter((r) => r.key.startsWith('proto/') && r.operation !== 'HeadObject' && r.operation !== 'GetObject' && r.operation !== 'ListObjects');
    const success = ops.findIndex((r) => r.operation === 'PutObject' && r.key === 'proto/_SUCCESS');
    const partPuts = ops.filter((r) => r.operation === 'PutObject' && r.key.startsWith('proto/_temporary/'));
    expect(partPuts.length).toBe(3);
    expect(ops.filter((r) => r.operation === 'PutObject' && !r.key.startsWith('proto/_temporary/') && r.key !== 'proto/_SUCCESS')).toEqual([]);
    const copies = ops.map((r, i) => [r, i] as const).filter(([r]) => r.operation === 'CopyObject');
    expect(copies.length).toBe(3);
    expect(copies.every(([, i]) => i < success)).toBe(true);
    const deletes = ops.map((r, i) => [r, i] as const).filter(([r]) => r.operation === 'DeleteObject' || r.operation === 'DeleteObjects');
    // The old parts (3) and the temporaries (3 in one batch) are deleted, all after the commit.
    expect(deletes.length).toBeGreaterThan(0);
    expect(deletes.every(([, i]) => i > success)).toBe(true);
    const second = await keys('proto/');
    expect(second.length).toBe(4);
    expect(second.filter((k) => first.includes(k))).toEqual(['proto/_SUCCESS']);
    const rows = await Session.local().read.parquet(out).then((d) => d.collect());
    expect(rows.map((r) => Number(r['id'])).sort((a, b) => a - b)).toEqual(Array.from({ length: 30 }, (_, i) => i));
  });

  for (const format of ['parquet', 'json'] as const) {
    test(`a ${format} write that fails mid-way leaves nothing under its target, and a committed output intact`, async () => {
      const boom = async function* () {
        for (let i = 0; i < 4; i++) yield batchOf(i * 10, 10);
        throw new Error('the job failed');
      };
      const fresh = `s3://${bucket}/fail-${format}`;
      await expect(writeBatches(boom(), schema, `s3://${bucket}/`, format, 'overwrite')).rejects.toThrow(/name a prefix inside the bucket/);
      await expect(writeBatches(boom(), schema, fresh, format, 'error', { maxRowsPerFile: 10 })).rejects.toThrow('the job failed');
      expect(await keys(`fail-${format}`)).toEqual([]);
      await expect(expandPaths(fresh)).rejects.toThrow(DataError);

      const kept = `s3://${bucket}/kept-${format}`;
      async function* ok() {
        yield batchOf(100, 5);
      }
      await writeBatches(ok(), schema, kept, format, 'error');
      const before = await keys(`kept-${format}/`);
      for (const mode of ['overwrite', 'append'] as const) {
        await expect(writeBatches(boom(), schema, kept, format, mode, { maxRowsPerFile: 10 })).rejects.toThrow('the job failed');
        expect(await keys(`kept-${format}/`)).toEqual(before);
      }
      const df = format === 'parquet' ? await Session.local().read.parquet(kept) : await Session.local().read.json(kept);
      expect((await df.collect()).map((r) => Number(r['id']))).toEqual([100, 101, 102, 103, 104]);
    });
  }

  test('readers read what the manifest lists and refuse an uncommitted directory', async () => {
    const out = `s3://${bucket}/manifested`;
    async function* two() {
      yield batchOf(0, 4);
      yield batchOf(4, 4);
    }
    await writeBatches(two(), schema, out, 'json', 'error', { maxRowsPerFile: 4 });
    const listed = await expandPaths(out);
    expect(listed.length).toBe(2);
    // A stray part (a copy of an in-flight write, say) is not read: only the manifest's files are.
    await store.put(`${out}/part-99999-stray.json`, '{"id": 999}\n');
    expect(await expandPaths(out)).toEqual(listed);
    expect((await (await Session.local().read.json(out)).collect()).length).toBe(8);
    // A directory with an in-flight marker and no _SUCCESS is not read at all.
    const pending = `s3://${bucket}/pending`;
    await store.put(`${pending}/_temporary/job-1/part-00000-job-1.json`, '{"id": 1}\n');
    await store.put(`${pending}/part-00000-job-1.json`, '{"id": 1}\n');
    await expect(expandPaths(pending)).rejects.toThrow(/being written or whose write failed/);
    // ...and a writer in mode 'error' does not count in-flight temporaries as an existing output, but does count the part.
    await store.delete([`${pending}/part-00000-job-1.json`]);
    await writeBatches(two(), schema, pending, 'json', 'error');
    expect((await (await Session.local().read.json(pending)).collect()).length).toBe(8);
    expect(await collect(store.listAll(`${pending}/_temporary/job-1/`)).then((l) => l.length)).toBe(1);
  });
});
