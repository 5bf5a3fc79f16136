// A fitted pipeline saved to s3:// (s3rver) and loaded back predicts identically; overwriting on S3 commits with
// one PUT of metadata.json and then removes the previous save's objects.
import { afterAll, beforeAll, expect, test } from 'vitest';
import { Session } from '../../core/sdk/index.ts';
import { LogisticRegression, Pipeline, PipelineModel, StandardScaler, StandardScalerModel, VectorAssembler } from '../../core/ml/index.ts';
import { setS3Store } from '../../core/io/s3-file-store.ts';
import { type S3Target, startS3Target } from '../infra/support.ts';
import { binaryRows } from './helpers.ts';

let target: S3Target;

beforeAll(async () => {
  target = await startS3Target();
  setS3Store(target.store());
}, 120_000);

afterAll(async () => {
  setS3Store(null);
  await target?.stop();
});

async function keys(prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of target.store().listAll(`s3://${target.bucket}/${prefix}`)) out.push(e.uri.slice(`s3://${target.bucket}/${prefix}`.length));
  return out.sort();
}

test('save to s3://, load in a fresh Session, identical predictions', async () => {
  const session = Session.local();
  const train = session.createDataFrame(binaryRows(200, 3));
  const model = await new Pipeline({
    stages: [new VectorAssembler({ inputCols: ['x1', 'x2', 'x3'], outputCol: 'raw' }), new StandardScaler({ inputCol: 'raw', outputCol: 'features' }), new LogisticRegression({ regParam: 0.1 })],
  }).fit(train);
  const uri = `s3://${target.bucket}/models/p1`;
  await model.save(uri);
  expect((await keys('models/p1/')).filter((k) => k === 'metadata.json')).toHaveLength(1);
  const fresh = Session.local();
  const loaded = await PipelineModel.load(uri, { session: fresh });
  const rows = binaryRows(40, 4);
  const predict = async (m: PipelineModel, s: Session) => (await (await m.transform(s.createDataFrame(rows))).select('probability', 'prediction').collect()).map((r) => [Array.from(r['probability'] as Float32Array), r['prediction']]);
  expect(await predict(loaded, fresh)).toEqual(await predict(model, session));
}, 120_000);

test('overwrite on s3:// replaces the model and removes the old data objects', async () => {
  const uri = `s3://${target.bucket}/models/scaler`;
  await new StandardScalerModel({}, Float64Array.of(1), Float64Array.of(2)).save(uri);
  const first = (await keys('models/scaler/')).filter((k) => k.startsWith('data-'));
  await expect(new StandardScalerModel({}, Float64Array.of(3), Float64Array.of(4)).save(uri)).rejects.toThrow(/already holds a saved stage/);
  await new StandardScalerModel({}, Float64Array.of(3), Float64Array.of(4)).save(uri, { overwrite: true });
  expect([...(await StandardScalerModel.load(uri)).mean]).toEqual([3]);
  const after = await keys('models/scaler/');
  expect(after.filter((k) => first.includes(k))).toEqual([]);
  expect(after.some((k) => k.startsWith('data-'))).toBe(true);
}, 120_000);
