// The ObjectStore contract, one test body run against LocalObjectStore and S3ObjectStore on s3rver (or on AWS
// with SQUALL_TEST_S3=env): round trips, ranges, heads, listings with pagination and delimiters, batch deletes,
// copies, writers that publish atomically, and a streamed multipart put read back byte-identical.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LocalObjectStore, ObjectStoreError, readRanges, readTail, type ObjectStore } from '../../core/io/object-store.ts';
import { collect, pseudoRandomBytes, sameBytes, startS3Target, tempDir, text, type S3Target } from '../infra/support.ts';

let s3: S3Target;
let localRoot: string;

beforeAll(async () => {
  s3 = await startS3Target();
  localRoot = tempDir();
});

afterAll(async () => {
  await s3?.stop();
  fs.rmSync(localRoot, { recursive: true, force: true });
});

interface Target {
  readonly name: string;
  store(): ObjectStore;
  /** A fresh base URI ending in '/' for one test. */
  base(test: string): string;
}

const run = Date.now().toString(36);
const targets: Target[] = [
  { name: 'LocalObjectStore', store: () => new LocalObjectStore(), base: (t) => path.join(localRoot, run, t) + '/' },
  { name: 'LocalObjectStore (file://)', store: () => new LocalObjectStore(), base: (t) => `file://${path.join(localRoot, run, 'uri', t)}/` },
  { name: 'S3ObjectStore', store: () => s3.store(), base: (t) => `s3://${s3.bucket}/contract/${run}/${t}/` },
];

describe.each(targets)('$name', (target) => {
  test('put, get and head round trip; overwriting changes the ETag', async () => {
    const store = target.store();
    const uri = target.base('roundtrip') + 'a b/ünïcode.txt';
    const first = await store.put(uri, 'hello, world');
    expect(first.size).toBe(12);
    expect(text(await store.get(uri))).toBe('hello, world');
    const h1 = await store.head(uri);
    expect(h1?.size).toBe(12);
    expect(h1?.etag).toBe(first.etag);
    const bytes = pseudoRandomBytes(1000);
    await store.put(uri, bytes);
    expect(await store.get(uri)).toEqual(bytes);
    const h2 = await store.head(uri);
    expect(h2?.size).toBe(1000);
    expect(h2?.etag).not.toBe(h1?.etag);
    const empty = target.base('roundtrip') + 'empty';
    await store.put(empty, new Uint8Array(0));
    expect((await store.get(empty)).length).toBe(0);
    expect((await store.head(empty))?.size).toBe(0);
  });

  test('missing objects: head is null, get names the object and the operation', async () => {
    const store = target.store();
    const uri = target.base('missing') + 'nothing-here';
    expect(await store.head(uri)).toBeNull();
    const e1 = await store.get(uri).catch((e: unknown) => e);
    expect(e1).toBeInstanceOf(ObjectStoreError);
    expect((e1 as ObjectStoreError).notFound).toBe(true);
    expect((e1 as Error).message).toMatch(new RegExp(`^${escape(uri)}: GET failed: NoSuchKey`));
    const e2 = await store.getRange(uri, 100, 200).catch((e: unknown) => e);
    expect((e2 as Error).message).toMatch(new RegExp(`^${escape(uri)}: GET range 100-200 failed: NoSuchKey`));
  });

  test('byte ranges: inside, first byte, cut at the end, past the end, empty', async () => {
    const store = target.store();
    const uri = target.base('ranges') + 'data.bin';
    const data = pseudoRandomBytes(10_000, 7);
    await store.put(uri, data);
    expect(await store.getRange(uri, 1234, 5678)).toEqual(data.subarray(1234, 5678));
    // s3rver reads `bytes=0-0` as the whole object; one byte must come back.
    expect(await store.getRange(uri, 0, 1)).toEqual(data.subarray(0, 1));
    expect(await store.getRange(uri, 9_990, 20_000)).toEqual(data.subarray(9_990));
    expect((await store.getRange(uri, 10_000, 10_010)).length).toBe(0);
    expect((await store.getRange(uri, 50_000, 50_010)).length).toBe(0);
    expect((await store.getRange(uri, 5, 5)).length).toBe(0);
    await expect(store.getRange(uri, 10, 5)).rejects.toThrow(/invalid byte range/);
  });

  test('readRanges returns each wanted slice, overlapping and out of order', async () => {
    const store = target.store();
    const uri = target.base('read-ranges') + 'data.bin';
    const data = pseudoRandomBytes(3 << 20, 3);
    await store.put(uri, data);
    const wanted = [
      { start: (3 << 20) - 8, end: 3 << 20 },
      { start: 0, end: 4 },
      { start: 100, end: 2_000_000 },
      { start: 1_000, end: 1_100 },
      { start: 2_500_000, end: 2_600_000 },
      { start: 3 << 20, end: (3 << 20) + 10 },
    ];
    const got = await readRanges(store, uri, wanted, { gapBytes: 64 << 10, requestBytes: 1 << 20, concurrency: 3 });
    got.forEach((g, i) => expect(sameBytes(g, data.subarray(wanted[i]!.start, Math.min(wanted[i]!.end, data.length)))).toBe('same'));
  });

  test('readTail reads the last bytes with an explicit range, heading first when the size is unknown', async () => {
    const store = target.store();
    const uri = target.base('tail') + 'file.parquet';
    const data = pseudoRandomBytes(100_000, 13);
    await store.put(uri, data);
    const a = await readTail(store, uri, 8);
    expect(a.size).toBe(100_000);
    expect(sameBytes(a.tail, data.subarray(100_000 - 8))).toBe('same');
    const b = await readTail(store, uri, 64 << 10, 100_000);
    expect(sameBytes(b.tail, data.subarray(100_000 - (64 << 10)))).toBe('same');
    expect((await readTail(store, uri, 1 << 20)).tail.length).toBe(100_000);
    await expect(readTail(store, target.base('tail') + 'missing', 8)).rejects.toThrow(/HEAD failed: NoSuchKey/);
  });

  test('list: string prefixes, sorted, paginated, with delimiters', async () => {
    const store = target.store();
    const base = target.base('list');
    const keys = ['part-00000', 'part-00001', 'part-00002', 'part-00010', 'partial', 'sub/x', 'sub/y/z', 'zz'];
    await Promise.all(keys.map((k, i) => store.put(base + k, 'v'.repeat(i + 1))));
    const all = await collect(store.listAll(base));
    expect(all.map((e) => e.uri)).toEqual(keys.map((k) => base + k));
    expect(all.map((e) => e.size)).toEqual(keys.map((_, i) => i + 1));
    expect(all.every((e) => e.etag.length > 0)).toBe(true);
    // A prefix is a string prefix, not a folder.
    expect((await collect(store.listAll(base + 'part-0'))).map((e) => e.uri)).toEqual(
      ['part-00000', 'part-00001', 'part-00002', 'part-00010'].map((k) => base + k),
    );
    // Pages of two, followed to the end.
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const page = await store.list(base, { maxKeys: 2, continuationToken: token });
      expect(page.entries.length).toBeLessThanOrEqual(2);
      seen.push(...page.entries.map((e) => e.uri));
      token = page.next ?? undefined;
      pages++;
    } while (token !== undefined);
    expect(seen).toEqual(keys.map((k) => base + k));
    expect(pages).toBe(4);
    const top = await store.list(base, { delimiter: '/' });
    expect(top.prefixes).toEqual([base + 'sub/']);
    expect(top.entries.map((e) => e.uri)).toEqual(keys.filter((k) => !k.includes('/')).map((k) => base + k));
    expect((await store.list(target.base('list-nothing'))).entries).toEqual([]);
  });

  test('delete removes a batch; missing keys are not an error', async () => {
    const store = target.store();
    const base = target.base('delete');
    const uris = Array.from({ length: 25 }, (_, i) => `${base}k${String(i).padStart(2, '0')}`);
    await Promise.all(uris.map((u) => store.put(u, 'x')));
    await store.delete([...uris.slice(0, 20), base + 'never-existed']);
    expect((await collect(store.listAll(base))).map((e) => e.uri)).toEqual(uris.slice(20));
    expect(await store.head(uris[0]!)).toBeNull();
    await store.delete([]);
  });

  test('copy duplicates an object', async () => {
    const store = target.store();
    const base = target.base('copy');
    const data = pseudoRandomBytes(5000, 11);
    await store.put(base + 'from', data);
    const r = await store.copy(base + 'from', base + 'deeper/to');
    expect(r.size).toBe(5000);
    expect(await store.get(base + 'deeper/to')).toEqual(data);
  });

  test('a writer publishes on close only; abort leaves nothing', async () => {
    const store = target.store();
    const base = target.base('writer');
    const w = store.openWriter(base + 'out');
    await w.write('abc');
    await w.write(new Uint8Array([100, 101]));
    expect(await store.head(base + 'out')).toBeNull();
    expect(await collect(store.listAll(base))).toEqual([]);
    const r = await w.close();
    expect(r.size).toBe(5);
    expect(text(await store.get(base + 'out'))).toBe('abcde');
    const a = store.openWriter(base + 'aborted');
    await a.write(pseudoRandomBytes(1000));
    await a.abort();
    expect(await store.head(base + 'aborted')).toBeNull();
    expect((await collect(store.listAll(base))).map((e) => e.uri)).toEqual([base + 'out']);
  });

  test('a streamed put larger than 8 MB reads back byte-identical', async () => {
    const store = target.store();
    const uri = target.base('stream') + 'big.bin';
    const data = pseudoRandomBytes((20 << 20) + 12_345, 5);
    async function* chunks() {
      // Odd chunk sizes, so part boundaries never line up with chunks.
      for (let at = 0, n = 1; at < data.length; at += n, n = (n * 7 + 3_333) % 1_500_000 + 1) yield data.subarray(at, Math.min(data.length, at + n));
    }
    const before = s3.server?.requestCount('UploadPart') ?? 0;
    const r = await store.putStream(uri, chunks(), { partSize: 8 << 20, concurrency: 2 });
    expect(r.size).toBe(data.length);
    const back = await store.get(uri);
    expect(sameBytes(back, data)).toBe('same');
    expect((await store.head(uri))?.size).toBe(data.length);
    if (target.name === 'S3ObjectStore' && s3.server) expect(s3.server.requestCount('UploadPart') - before).toBe(3);
  });
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
