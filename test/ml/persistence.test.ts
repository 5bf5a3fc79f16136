// Persistence: a fitted pipeline saved (JSON metadata + Parquet data) and loaded in a fresh Session and in
// another process transforms to identical predictions; errors name the file and the field; saves commit
// atomically (a failed save leaves the previous one loadable and nothing behind).
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, test } from 'vitest';
import { Session } from '../../core/sdk/index.ts';
import {
  LogisticRegression,
  LogisticRegressionModel,
  Pipeline,
  PipelineModel,
  StandardScaler,
  StandardScalerModel,
  StringIndexer,
  StringIndexerModel,
  VectorAssembler,
  loadStage,
} from '../../core/ml/index.ts';
import { DataTypes } from '../../core/types/data-type.ts';
import { DataError } from '../../core/types/errors.ts';
import { field, schema } from '../../core/types/schema.ts';
import { rng, tempDir } from './helpers.ts';

const dir = tempDir();
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Rows with a categorical column, two numeric ones and a label drawn from a logistic model. */
function pipelineRows(n: number, seed: number) {
  const r = rng(seed);
  const cats = ['red', 'green', 'blue'];
  return Array.from({ length: n }, () => {
    const c = Math.floor(r() * 3);
    const x1 = r() * 10;
    const x2 = r() * 4 - 2;
    const m = -1 + 0.4 * x1 - 1.5 * x2 + (c === 0 ? 1 : c === 2 ? -1 : 0);
    return { color: cats[c]!, x1, x2, label: r() < 1 / (1 + Math.exp(-m)) ? 1 : 0 };
  });
}

function pipeline() {
  return new Pipeline({
    stages: [
      new StringIndexer({ inputCol: 'color', outputCol: 'colorIndex' }),
      new VectorAssembler({ inputCols: ['x1', 'x2', 'colorIndex'], outputCol: 'raw' }),
      new StandardScaler({ inputCol: 'raw', outputCol: 'features', withMean: true }),
      new LogisticRegression({ regParam: 0.01, maxIter: 100 }),
    ],
  });
}

const predictions = async (model: PipelineModel, rows: Record<string, unknown>[], session = Session.local()) =>
  (await (await model.transform(session.createDataFrame(rows))).select('prediction', 'probability', 'rawPrediction').collect()).map((r) => ({
    prediction: r['prediction'],
    probability: Array.from(r['probability'] as Float32Array),
    rawPrediction: Array.from(r['rawPrediction'] as Float32Array),
  }));

describe('round trip', () => {
  const train = pipelineRows(300, 1);
  const test_ = pipelineRows(50, 2);

  test('save, load in a fresh Session, identical predictions; every stage restored', async () => {
    const model = await pipeline().fit(Session.local().createDataFrame(train));
    const where = path.join(dir, 'model');
    await model.save(where);
    expect(fs.existsSync(path.join(where, 'metadata.json'))).toBe(true);
    const meta = JSON.parse(fs.readFileSync(path.join(where, 'metadata.json'), 'utf8'));
    expect(meta).toMatchObject({ class: 'PipelineModel', uid: model.uid, version: 1 });
    expect(meta.stages).toHaveLength(4);

    const fresh = Session.local();
    const loaded = await PipelineModel.load(where, { session: fresh });
    expect(loaded.uid).toBe(model.uid);
    expect(loaded.stages.map((s) => s.className)).toEqual(['StringIndexerModel', 'VectorAssembler', 'StandardScalerModel', 'LogisticRegressionModel']);
    expect((loaded.stages[0] as StringIndexerModel).labels).toEqual((model.stages[0] as StringIndexerModel).labels);
    expect([...(loaded.stages[2] as StandardScalerModel).std]).toEqual([...(model.stages[2] as StandardScalerModel).std]);
    const lr = loaded.stages[3] as LogisticRegressionModel;
    expect([...lr.coefficients]).toEqual([...(model.stages[3] as LogisticRegressionModel).coefficients]);
    expect(lr.get('regParam')).toBe(0.01);
    expect(lr.isSet('maxIter')).toBe(true);
    expect(await predictions(loaded, test_, fresh)).toEqual(await predictions(model, test_));

    // A single stage saved on its own loads with its class's load(); a mismatched class names the field.
    await lr.save(path.join(dir, 'lr'));
    expect((await LogisticRegressionModel.load(path.join(dir, 'lr'))).intercept).toBe(lr.intercept);
    await expect(StandardScalerModel.load(path.join(dir, 'lr'))).rejects.toThrow(/field 'class' is 'LogisticRegressionModel', not 'StandardScalerModel'/);
    // An unfitted pipeline saves and loads too.
    await pipeline().save(path.join(dir, 'unfitted'));
    const p = await Pipeline.load(path.join(dir, 'unfitted'));
    expect(p.stages.map((s) => s.className)).toEqual(['StringIndexer', 'VectorAssembler', 'StandardScaler', 'LogisticRegression']);
  });

  test('another process loads the model and predicts the same', async () => {
    const model = await pipeline().fit(Session.local().createDataFrame(train));
    const where = path.join(dir, 'model-proc');
    await model.save(where);
    fs.writeFileSync(path.join(dir, 'rows.json'), JSON.stringify(test_));
    const script = path.join(dir, 'load.mts');
    const root = path.resolve(import.meta.dirname, '../..');
    fs.writeFileSync(
      script,
      `import * as fs from 'node:fs';
import { Session } from ${JSON.stringify(path.join(root, 'core/sdk/index.ts'))};
import { PipelineModel } from ${JSON.stringify(path.join(root, 'core/ml/index.ts'))};
const rows = JSON.parse(fs.readFileSync(${JSON.stringify(path.join(dir, 'rows.json'))}, 'utf8'));
const model = await PipelineModel.load(${JSON.stringify(where)});
const out = await (await model.transform(Session.local().createDataFrame(rows))).select('prediction', 'probability', 'rawPrediction').collect();
console.log(JSON.stringify(out.map((r) => ({ prediction: r.prediction, probability: Array.from(r.probability), rawPrediction: Array.from(r.rawPrediction) }))));
`,
    );
    const { stdout } = await promisify(execFile)(path.join(root, 'node_modules/.bin/tsx'), [script], { cwd: root, timeout: 120_000 });
    expect(JSON.parse(stdout)).toEqual(await predictions(model, test_));
  }, 180_000);
});

describe('errors and atomic commits', () => {
  test('a path with nothing saved names metadata.json', async () => {
    await expect(PipelineModel.load(path.join(dir, 'nothing'))).rejects.toThrow(/'.*nothing\/metadata.json' does not exist/);
  });

  test('a missing or wrong metadata field names the file and the field', async () => {
    const where = path.join(dir, 'scaler');
    const m = new StandardScalerModel({ inputCol: 'f' }, Float64Array.of(1, 2), Float64Array.of(3, 4));
    await m.save(where);
    const file = path.join(where, 'metadata.json');
    const good = JSON.parse(fs.readFileSync(file, 'utf8'));
    const broken = async (edit: (m: Record<string, unknown>) => void) => {
      const copy = structuredClone(good);
      edit(copy);
      fs.writeFileSync(file, JSON.stringify(copy));
      return StandardScalerModel.load(where);
    };
    await expect(broken((x) => delete x.uid)).rejects.toThrow(`'${file}': field 'uid' is missing (expected a string)`);
    await expect(broken((x) => (x.version = 9))).rejects.toThrow(`'${file}': field 'version' is 9`);
    await expect(broken((x) => delete (x.extra as Record<string, unknown>).numFeatures)).rejects.toThrow(`'${file}': field 'extra.numFeatures' is missing`);
    await expect(broken((x) => delete (x.data as Record<string, unknown>).stats)).rejects.toThrow(`'${file}': field 'data.stats' is missing`);
    await expect(broken((x) => ((x.params as Record<string, unknown>).withMean = 'yes'))).rejects.toThrow(new RegExp(`'${file}': .*'withMean' expects a boolean`));
    await expect(broken((x) => (x.class = 'Nope'))).rejects.toThrow(/field 'class' names an unknown stage 'Nope'/);
    fs.writeFileSync(file, '{ not json');
    await expect(StandardScalerModel.load(where)).rejects.toThrow(`'${file}' is not valid JSON`);
    fs.writeFileSync(file, JSON.stringify(good));
    expect([...(await StandardScalerModel.load(where)).std]).toEqual([3, 4]);
  });

  test('saving over a model needs overwrite; overwrite replaces it and removes the old data', async () => {
    const where = path.join(dir, 'over');
    await new StandardScalerModel({}, Float64Array.of(1), Float64Array.of(2)).save(where);
    await expect(new StandardScalerModel({}, Float64Array.of(5), Float64Array.of(6)).save(where)).rejects.toThrow(/already holds a saved stage.*overwrite: true/);
    await new StandardScalerModel({}, Float64Array.of(5), Float64Array.of(6)).save(where, { overwrite: true });
    expect([...(await StandardScalerModel.load(where)).mean]).toEqual([5]);
    expect(fs.readdirSync(where).filter((n) => n.startsWith('data-'))).toHaveLength(1);
    fs.writeFileSync(path.join(dir, 'afile'), 'x');
    await expect(new StandardScalerModel({}, Float64Array.of(1), Float64Array.of(2)).save(path.join(dir, 'afile'))).rejects.toThrow(/it is a file/);
  });

  test('a save that fails leaves the previous model loadable and no new directories', async () => {
    const where = path.join(dir, 'atomic');
    const good = new StandardScalerModel({}, Float64Array.of(1), Float64Array.of(2));
    await good.save(where);
    const before = fs.readdirSync(where).sort();
    // A stage whose data cannot be written (a NULL in a non-nullable column) fails mid-save.
    const bad = new StandardScalerModel({}, Float64Array.of(7), Float64Array.of(8));
    bad.saveState = () => ({
      data: {
        stats: { schema: schema([field('index', DataTypes.int64, false)]), rows: [{ index: null }] },
      },
    });
    await expect(bad.save(where, { overwrite: true })).rejects.toThrow(DataError);
    expect(fs.readdirSync(where).sort()).toEqual(before);
    expect([...(await StandardScalerModel.load(where)).mean]).toEqual([1]);
    expect((await loadStage(where)).className).toBe('StandardScalerModel');
  });
});
