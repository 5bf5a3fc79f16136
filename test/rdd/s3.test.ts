// RDDs and caching over s3:// against the local stack's s3rver: textFile splits of an object, an atomic
// saveAsTextFile publishing a manifest, and a cached DataFrame invalidated by a new ETag.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Session, cacheStats, col } from '../../core/sdk/index.ts';
import { S3ObjectStore } from '../../core/io/object-store.ts';
import { setS3Store } from '../../core/io/s3-file-store.ts';
import { type LocalStack, startLocalStack } from '../../infra/local-stack/index.ts';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

let stack: LocalStack;
let store: S3ObjectStore;
let bucket: string;

beforeAll(async () => {
  stack = await startLocalStack({ logs: 'silent' });
  bucket = stack.bucket;
  store = S3ObjectStore.fromEndpoints(stack.endpoints());
  setS3Store(store);
}, 120_000);

afterAll(async () => {
  setS3Store(null);
  store?.destroy();
  await stack?.stop();
});

describe('RDDs over S3', () => {
  test('textFile reads an object in splits; saveAsTextFile commits with a manifest', async () => {
    const lines = Array.from({ length: 500 }, (_, i) => `word${i % 17} word${i % 5} line${i}`);
    await store.put(`s3://${bucket}/rdd/in/corpus.txt`, lines.join('\n') + '\n');
    const session = Session.local();
    const rdd = await session.textFile(`s3://${bucket}/rdd/in/`, { splitBytes: 2048 });
    expect(rdd.getNumPartitions()).toBeGreaterThan(3);
    expect(await rdd.collect()).toEqual(lines);
    const counts = rdd
      .flatMap((l) => l.split(' '))
      .map((w) => [w, 1] as [string, number])
      .reduceByKey((a, b) => a + b, 2)
      .filter(([w]) => !w.startsWith('line'))
      .map(([w, n]) => `${w}\t${n}`);
    const out = `s3://${bucket}/rdd/out/counts`;
    const { files } = await counts.saveAsTextFile(out);
    expect(files).toHaveLength(2);
    const manifest = JSON.parse(new TextDecoder().decode(await store.get(`${out}/_SUCCESS`)));
    expect(manifest.files).toEqual(['part-00000', 'part-00001']);
    const back = (await (await session.textFile(out)).collect()).map((l) => l.split('\t'));
    const expected = new Map<string, number>();
    for (const l of lines) for (const w of l.split(' ').slice(0, 2)) expected.set(w, (expected.get(w) ?? 0) + 1);
    expect(new Map(back.map(([w, n]) => [w!, Number(n)]))).toEqual(expected);
    await expect(counts.saveAsTextFile(out)).rejects.toThrow(/already exists/);
  }, 120_000);

  test('a cached DataFrame over S3 is recomputed when the object gets a new ETag', async () => {
    const uri = `s3://${bucket}/rdd/cache/data.csv`;
    await store.put(uri, 'k,v\na,1\nb,2\nc,3\n');
    const session = Session.local();
    const df = (await session.read.option('header', true).csv(uri)).filter(col('v').gt(1)).cache();
    expect(await df.count()).toBe(2);
    expect(await df.count()).toBe(2);
    expect(cacheStats(session)).toMatchObject({ materialized: 1, hits: 1 });
    await store.put(uri, 'k,v\na,5\nb,6\nc,7\n');
    expect(await df.count()).toBe(3);
    expect(cacheStats(session)).toMatchObject({ materialized: 2, invalidated: 1 });
  }, 120_000);
});
