// Shuffle through an object store, against s3rver (from startLocalStack) and local files: partitioned round
// trips with every column type, the commit protocol (only the committed attempt is read), empty partitions,
// broadcast, range and round-robin partitioning, key spreading, and S3 request counts per shuffle.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as arrow from 'apache-arrow';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { columnData } from '../../core/arrow/column.ts';
import { LocalObjectStore, type ObjectStore, S3ObjectStore } from '../../core/io/object-store.ts';
import type { Partitioning } from '../../core/physical/physical-plan.ts';
import { hashPartitions } from '../../core/shuffle/partition-hash.ts';
import { type MapOutput, mapOutputUri, readMapOutputFooter } from '../../core/shuffle/map-output.ts';
import { commitMapOutput, commitMapOutputs, emptyManifest, isComplete, loadManifest } from '../../core/shuffle/manifest.ts';
import { combineMapOutputs, planCombinerGroups } from '../../core/shuffle/combiner.ts';
import { rangeBoundaries } from '../../core/shuffle/range-partition.ts';
import { readShufflePartition } from '../../core/shuffle/shuffle-reader.ts';
import { type ShuffleWriterOptions, writeMapOutput } from '../../core/shuffle/shuffle-writer.ts';
import { DataTypes } from '../../core/types/data-type.ts';
import { concatBatches } from '../../core/arrow/column.ts';
import { toArrowSchema } from '../../core/types/arrow-types.ts';
import { type LocalStack, startLocalStack } from '../../infra/local-stack/index.ts';
import { ALL_TYPES_SCHEMA, allTypesBatch, followsBatchContract, ids, renderRows } from './support.ts';

const TYPES = ALL_TYPES_SCHEMA.fields.map((f) => f.type);

let stack: LocalStack;
let s3: S3ObjectStore;
let tmp: string;
const local = new LocalObjectStore();

beforeAll(async () => {
  stack = await startLocalStack({ logs: 'silent' });
  s3 = S3ObjectStore.fromEndpoints(stack.endpoints());
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'squall-shuffle-'));
}, 30_000);

afterAll(async () => {
  s3?.destroy();
  await stack?.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

let rootSeq = 0;
const targets: [string, () => { store: ObjectStore; root: string }][] = [
  ['s3rver', () => ({ store: s3, root: `s3://${stack.bucket}/jobs/job-${++rootSeq}/shuffle` })],
  ['local files', () => ({ store: local, root: path.join(tmp, `job-${++rootSeq}`, 'shuffle') })],
];

/** Input of map task `t`: two batches, the second with a dictionary string column. */
function mapInput(t: number, rowsPerBatch = 150): arrow.RecordBatch[] {
  const base = t * 10_000;
  return [allTypesBatch(base, rowsPerBatch), allTypesBatch(base + rowsPerBatch, rowsPerBatch, { dictionary: true })];
}

function options(root: string, task: number, partitioning: Partitioning, extra: Partial<ShuffleWriterOptions> = {}): ShuffleWriterOptions {
  return { shuffleRoot: root, stage: 1, task, attempt: 0, partitioning, schema: ALL_TYPES_SCHEMA, ...extra };
}

describe.each(targets)('shuffle over %s', (_name, target) => {
  test('hash: every row lands in exactly its partition and equals the input, with every column type', async () => {
    const { store, root } = target();
    const R = 5;
    const partitioning: Partitioning = { kind: 'hash', keys: [1, 5], partitions: R };
    const expected = new Map<number, { partition: number; row: string }>();
    const outputs: MapOutput[] = [];
    for (let t = 0; t < 3; t++) {
      const input = mapInput(t);
      for (const b of input) {
        const parts = hashPartitions(b, [1, 5], TYPES, R);
        const rows = renderRows(b);
        ids(b).forEach((id, i) => expected.set(id, { partition: parts[i]!, row: rows[i]! }));
      }
      outputs.push(await writeMapOutput(store, options(root, t, partitioning), input));
    }
    const { manifest } = await commitMapOutputs(store, root, emptyManifest(1, 3, R), outputs);
    expect(isComplete(manifest)).toBe(true);
    const loaded = (await loadManifest(store, root, 1))!;
    expect(loaded).toEqual(manifest);
    const seen = new Set<number>();
    for (let p = 0; p < R; p++) {
      const batches = await readShufflePartition(store, loaded.outputs, p);
      expect(batches.length).toBeGreaterThan(0);
      for (const b of batches) {
        expect(followsBatchContract(b)).toBe(true);
        const rows = renderRows(b);
        ids(b).forEach((id, i) => {
          expect(seen.has(id)).toBe(false);
          seen.add(id);
          expect(expected.get(id)).toEqual({ partition: p, row: rows[i] });
        });
      }
    }
    expect(seen.size).toBe(expected.size);
    expect(outputs.reduce((s, o) => s + o.rows, 0)).toBe(expected.size);
    // The footer repeats the index.
    const footer = await readMapOutputFooter(store, outputs[1]!.uri);
    expect(footer).toEqual(outputs[1]);
  });

  test('only the committed attempt of a task is read; a later duplicate is ignored', async () => {
    const { store, root } = target();
    const partitioning: Partitioning = { kind: 'hash', keys: [0], partitions: 3 };
    const a0 = await writeMapOutput(store, options(root, 0, partitioning, { attempt: 0 }), [allTypesBatch(0, 50)]);
    const a1 = await writeMapOutput(store, options(root, 0, partitioning, { attempt: 1 }), [allTypesBatch(1000, 60)]);
    const t1 = await writeMapOutput(store, options(root, 1, partitioning), [allTypesBatch(5000, 10)]);
    expect(a0.uri).not.toBe(a1.uri);
    let m = emptyManifest(1, 2, 3);
    const first = await commitMapOutput(store, root, m, a1);
    expect(first.committed).toEqual([a1]);
    m = first.manifest;
    const dup = await commitMapOutput(store, root, m, a0);
    expect(dup.committed).toEqual([]);
    expect(dup.manifest).toBe(m);
    expect(isComplete(m)).toBe(false);
    m = (await commitMapOutputs(store, root, m, [t1, a0])).manifest;
    const loaded = (await loadManifest(store, root, 1))!;
    expect(loaded.sequence).toBe(2);
    expect(loaded.outputs.map((o) => [o.task, o.attempt])).toEqual([[0, 1], [1, 0]]);
    const all: number[] = [];
    for (let p = 0; p < 3; p++) for (const b of await readShufflePartition(store, loaded.outputs, p)) all.push(...ids(b));
    const want = [...Array.from({ length: 60 }, (_, i) => 1000 + i), ...Array.from({ length: 10 }, (_, i) => 5000 + i)];
    expect(all.sort((x, y) => x - y)).toEqual(want);
    // Both attempts' objects exist; the uncommitted one is simply never read.
    expect(await store.head(a0.uri)).not.toBeNull();
    expect(await loadManifest(store, root, 7)).toBeNull();
    // A wrong-shaped output is refused.
    await expect(commitMapOutput(store, root, emptyManifest(1, 2, 4), a0)).rejects.toThrow(/has 3 partitions/);
  });

  test('empty partitions and an empty map task cost nothing and read as empty', async () => {
    const { store, root } = target();
    const R = 8;
    const partitioning: Partitioning = { kind: 'hash', keys: [1], partitions: R };
    // Two distinct non-null keys plus nulls: at most 3 partitions get rows.
    const input = [allTypesBatch(0, 40, { distinctKeys: 2 })];
    const full = await writeMapOutput(store, options(root, 0, partitioning), input);
    const empty = await writeMapOutput(store, options(root, 1, partitioning), []);
    expect(empty.rows).toBe(0);
    expect(empty.partitions.every((s) => s.length === 0 && s.rows === 0)).toBe(true);
    const used = full.partitions.filter((s) => s.rows > 0).length;
    expect(used).toBeGreaterThan(0);
    expect(used).toBeLessThanOrEqual(3);
    const outputs = (await commitMapOutputs(store, root, emptyManifest(1, 2, R), [full, empty])).manifest.outputs;
    let total = 0;
    for (let p = 0; p < R; p++) {
      const batches = await readShufflePartition(store, outputs, p);
      const rows = batches.reduce((s, b) => s + b.numRows, 0);
      expect(rows).toBe(full.partitions[p]!.rows);
      total += rows;
    }
    expect(total).toBe(40);
  });

  test('a dictionary string column stays a dictionary through the shuffle', async () => {
    const { store, root } = target();
    const input = allTypesBatch(0, 120, { dictionary: true });
    const want = renderRows(input);
    const out = await writeMapOutput(store, options(root, 0, { kind: 'single' }), [input]);
    const got = await readShufflePartition(store, [out], 0);
    expect(got.length).toBe(1);
    expect(columnData(got[0]!, 6).type.typeId).toBe(arrow.Type.Dictionary);
    expect(followsBatchContract(got[0]!)).toBe(true);
    expect(renderRows(got[0]!)).toEqual(want);
  });

  test('lz4-compressed outputs are smaller and read back equal', async () => {
    const { store, root } = target();
    const partitioning: Partitioning = { kind: 'hash', keys: [1], partitions: 3 };
    const input = [allTypesBatch(0, 2000), allTypesBatch(2000, 2000, { dictionary: true })];
    const plain = await writeMapOutput(store, options(root, 0, partitioning), input);
    const lz4 = await writeMapOutput(store, options(root, 1, partitioning, { compression: 'lz4' }), input);
    expect(lz4.bytes).toBeLessThan(plain.bytes * 0.9);
    expect(lz4.partitions.map((s) => s.rows)).toEqual(plain.partitions.map((s) => s.rows));
    for (let p = 0; p < 3; p++) {
      const a = (await readShufflePartition(store, [plain], p)).flatMap(renderRows);
      const b = (await readShufflePartition(store, [lz4], p)).flatMap(renderRows);
      expect(b).toEqual(a);
      expect(a.length).toBe(plain.partitions[p]!.rows);
    }
  });

  test('broadcast: one partition per map task, read whole by every consumer', async () => {
    const { store, root } = target();
    const outputs: MapOutput[] = [];
    const want: string[] = [];
    for (let t = 0; t < 3; t++) {
      const input = mapInput(t, 20);
      input.forEach((b) => want.push(...renderRows(b)));
      outputs.push(await writeMapOutput(store, options(root, t, { kind: 'broadcast' }), input));
    }
    expect(outputs.every((o) => o.partitions.length === 1)).toBe(true);
    for (const partition of [null, 0]) {
      const got = (await readShufflePartition(store, outputs, partition)).flatMap(renderRows);
      // Map-task order; within a task the writer's order.
      expect(got).toEqual(want);
    }
  });

  test('range: partitions are ordered by the key and boundaries come from a sample', async () => {
    const { store, root } = target();
    const R = 4;
    const keys = [{ index: 2, ascending: true, nullsFirst: false }];
    const partitioning: Partitioning = { kind: 'range', keys, partitions: R };
    const inputs = [0, 1, 2].map((t) => mapInput(t, 100));
    const sample = concatBatches(toArrowSchema(ALL_TYPES_SCHEMA), inputs.flat().filter((_, i) => i % 2 === 0));
    const boundaries = rangeBoundaries(sample, keys, TYPES, R);
    expect(boundaries.numRows).toBe(R - 1);
    const outputs: MapOutput[] = [];
    for (let t = 0; t < 3; t++) outputs.push(await writeMapOutput(store, options(root, t, partitioning, { rangeBoundaries: boundaries }), inputs[t]!));
    // i64 (column 2) as plain values, nulls last.
    const parts: (bigint | null)[][] = [];
    for (let p = 0; p < R; p++) {
      const vals: (bigint | null)[] = [];
      for (const b of await readShufflePartition(store, outputs, p)) {
        const d = columnData(b, 2);
        for (let i = 0; i < b.numRows; i++) vals.push(d.nullBitmap && d.nullCount > 0 && !((d.nullBitmap[i >> 3]! >> (i & 7)) & 1) ? null : (d.values as BigInt64Array)[i]!);
      }
      parts.push(vals);
    }
    expect(parts.reduce((s, v) => s + v.length, 0)).toBe(600);
    for (let p = 0; p < R; p++) expect(parts[p]!.length).toBeGreaterThan(50);
    // Every non-null value of partition p is below every value of partition p+1; nulls only in the last.
    for (let p = 0; p + 1 < R; p++) {
      const nn = (v: (bigint | null)[]) => v.filter((x): x is bigint => x !== null);
      const maxHere = nn(parts[p]!).reduce((a, b) => (b > a ? b : a));
      const minNext = nn(parts[p + 1]!).reduce((a, b) => (b < a ? b : a));
      expect(maxHere < minNext).toBe(true);
      expect(parts[p]!.includes(null)).toBe(false);
    }
    expect(parts[R - 1]!.includes(null)).toBe(true);
  });
});

describe('partitioning details (local files)', () => {
  test('range on a descending string key keeps the key order; round robin spreads evenly', async () => {
    const root = path.join(tmp, 'details', 'shuffle');
    const keys = [{ index: 5, ascending: false, nullsFirst: true }];
    const input = [allTypesBatch(0, 200), allTypesBatch(200, 200, { dictionary: true })];
    const boundaries = rangeBoundaries(input[0]!, keys, TYPES, 3);
    const out = await writeMapOutput(local, options(root, 0, { kind: 'range', keys, partitions: 3 }, { rangeBoundaries: boundaries }), input);
    const parts = await Promise.all([0, 1, 2].map(async (p) => (await readShufflePartition(local, [out], p)).flatMap((b) => b.getChildAt(5)!.toArray() as (string | null)[])));
    const byCodePoint = (a: string, b: string) => {
      const x = [...a].map((c) => c.codePointAt(0)!);
      const y = [...b].map((c) => c.codePointAt(0)!);
      for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
      return x.length - y.length;
    };
    expect(parts[0]!.includes(null)).toBe(true);
    for (let p = 0; p + 1 < 3; p++) {
      const here = parts[p]!.filter((s): s is string => s !== null);
      const next = parts[p + 1]!.filter((s): s is string => s !== null);
      expect(parts[p + 1]!.includes(null)).toBe(false);
      // Descending: everything here is >= everything in the next partition.
      for (const a of here) for (const b of next) expect(byCodePoint(a, b)).toBeGreaterThan(0);
    }
    expect(parts.flat().length).toBe(400);

    const rr = await writeMapOutput(local, options(root, 3, { kind: 'round_robin', partitions: 4 }), input);
    expect(rr.partitions.map((s) => s.rows)).toEqual([100, 100, 100, 100]);
    const p0 = (await readShufflePartition(local, [rr], 0)).flatMap(ids);
    // Task 3 starts at partition 3: rows 1, 5, 9… go to partition 0.
    expect(p0.slice(0, 3)).toEqual([1, 5, 9]);
  });

  test('the writer refuses range partitioning without boundaries and a vector hash key', async () => {
    const root = path.join(tmp, 'refuse', 'shuffle');
    const keys = [{ index: 1, ascending: true, nullsFirst: true }];
    await expect(writeMapOutput(local, options(root, 0, { kind: 'range', keys, partitions: 2 }), [])).rejects.toThrow(/needs boundaries/);
    await expect(writeMapOutput(local, options(root, 0, { kind: 'hash', keys: [10], partitions: 2 }), [allTypesBatch(0, 5)])).rejects.toThrow(/vector/);
  });
});

describe('S3 requests and key layout', () => {
  test('map objects are spread over several prefixes, one key per attempt', () => {
    const root = 's3://b/jobs/j/shuffle';
    const uris = Array.from({ length: 32 }, (_, t) => mapOutputUri(root, 2, t, 0));
    for (const [t, u] of uris.entries()) expect(u).toMatch(new RegExp(`^s3://b/jobs/j/shuffle/stage-2/part-[0-9a-f]{2}/map-${t}-attempt-0\\.arrow$`));
    const prefixes = new Set(uris.map((u) => u.split('/')[7]));
    expect(prefixes.size).toBeGreaterThanOrEqual(16);
    expect(mapOutputUri(root, 2, 5, 1)).not.toBe(mapOutputUri(root, 2, 5, 0));
    expect(mapOutputUri(root, 2, 5, 1).split('/')[7]).toBe(mapOutputUri(root, 2, 5, 0).split('/')[7]);
  });

  for (const [M, R] of [
    [4, 4],
    [10, 10],
  ] as const) {
    test(`M×R = ${M}×${R}: M PUTs for the map side, one GET per (map, reduce) pair`, async () => {
      const root = `s3://${stack.bucket}/jobs/requests-${M}x${R}/shuffle`;
      const partitioning: Partitioning = { kind: 'hash', keys: [0], partitions: R };
      const inputs = Array.from({ length: M }, (_, t) => [allTypesBatch(t * 1000, 200)]);
      const server = stack.s3;
      server.resetCounts();
      const putKeys: string[] = [];
      const unsubscribe = server.onRequest((r) => {
        if (r.operation === 'PutObject') putKeys.push(r.key);
      });
      const outputs = await Promise.all(inputs.map((input, t) => writeMapOutput(s3, options(root, t, partitioning), input)));
      expect(server.requestCount('PutObject', 'CreateMultipartUpload', 'UploadPart')).toBe(M);
      expect(server.requestCount('GetObject')).toBe(0);
      unsubscribe();
      // The map objects went under several hash-spread prefixes.
      expect(new Set(putKeys.map((k) => /\/(part-[0-9a-f]{2})\//.exec(k)?.[1])).size).toBeGreaterThanOrEqual(M >= 10 ? 5 : 2);
      expect(putKeys.every((k) => /\/part-[0-9a-f]{2}\/map-\d+-attempt-0\.arrow$/.test(k))).toBe(true);
      const { manifest } = await commitMapOutputs(s3, root, emptyManifest(1, M, R), outputs);
      expect(server.requestCount('PutObject')).toBe(M + 1);
      server.resetCounts();
      const loaded = (await loadManifest(s3, root, 1))!;
      expect(loaded).toEqual(manifest);
      const manifestRequests = server.requestCount();
      expect(manifestRequests).toBe(2); // one LIST, one GET
      const nonEmpty = outputs.reduce((s, o) => s + o.partitions.filter((p) => p.length > 0).length, 0);
      // 200 distinct ids per task over R partitions: every (map, reduce) pair has rows.
      expect(nonEmpty).toBe(M * R);
      let rows = 0;
      for (let p = 0; p < R; p++) rows += (await readShufflePartition(s3, loaded.outputs, p)).reduce((s, b) => s + b.numRows, 0);
      expect(rows).toBe(M * 200);
      const gets = server.requestCount('GetObject') - 1;
      expect(gets).toBe(M * R);
      expect(server.requestCount('PutObject', 'HeadObject', 'DeleteObject', 'DeleteObjects')).toBe(0);
      // Broadcast-style read of everything: the R ranges of one object are one GET each object.
      server.resetCounts();
      await readShufflePartition(s3, loaded.outputs, null);
      expect(server.requestCount('GetObject')).toBe(M);
    }, 30_000);
  }

  test('combining 12 map outputs into 3 makes reducers read 3 objects, with the same rows in the same order', async () => {
    const M = 12;
    const R = 6;
    const root = `s3://${stack.bucket}/jobs/combine/shuffle`;
    const partitioning: Partitioning = { kind: 'hash', keys: [1, 6], partitions: R };
    const outputs = await Promise.all(
      Array.from({ length: M }, (_, t) => writeMapOutput(s3, options(root, t, partitioning), t === 4 ? [] : [allTypesBatch(t * 1000, 80, { dictionary: t % 2 === 0 })])),
    );
    const maps = (await commitMapOutputs(s3, root, emptyManifest(1, M, R), outputs)).manifest;
    const direct: string[][] = [];
    for (let p = 0; p < R; p++) direct.push((await readShufflePartition(s3, maps.outputs, p)).flatMap(renderRows));
    const groups = planCombinerGroups(maps.outputs, 3);
    expect(groups.map((g) => g.map((o) => o.task))).toEqual([[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]);
    const server = stack.s3;
    server.resetCounts();
    const combined = await Promise.all(groups.map((g, c) => combineMapOutputs(s3, g, { shuffleRoot: root, stage: 1, combiner: c, attempt: 0 })));
    expect(server.requestCount('GetObject')).toBe(M - 1); // the empty map output is not read
    expect(server.requestCount('PutObject')).toBe(3);
    // A second attempt of combiner 1 is written but the first commit wins.
    const dup = await combineMapOutputs(s3, groups[1]!, { shuffleRoot: root, stage: 1, combiner: 1, attempt: 1 });
    expect(dup.uri).not.toBe(combined[1]!.uri);
    let cm = (await commitMapOutputs(s3, root, emptyManifest(1, 3, R), combined, 'combined')).manifest;
    cm = (await commitMapOutput(s3, root, cm, dup, 'combined')).manifest;
    const loaded = (await loadManifest(s3, root, 1, 'combined'))!;
    expect(loaded.outputs.map((o) => o.attempt)).toEqual([0, 0, 0]);
    expect(loaded.outputs.reduce((s, o) => s + o.rows, 0)).toBe(maps.outputs.reduce((s, o) => s + o.rows, 0));
    expect(await readMapOutputFooter(s3, combined[2]!.uri)).toEqual(combined[2]);
    server.resetCounts();
    for (let p = 0; p < R; p++) {
      const got = await readShufflePartition(s3, loaded.outputs, p);
      expect(got.every(followsBatchContract)).toBe(true);
      expect(got.flatMap(renderRows)).toEqual(direct[p]);
    }
    expect(server.requestCount('GetObject')).toBe(3 * R);
    // The map-side manifest is untouched.
    expect((await loadManifest(s3, root, 1))!.sequence).toBe(1);
  }, 30_000);
});
