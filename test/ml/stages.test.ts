// Cross-cutting checks: every stage's transformSchema predicts its transform's output columns and types;
// instance weights act as row counts; prediction columns can be left out; the package exports `ml`.
import { describe, expect, test } from 'vitest';
import { type DataFrame, Session, ml } from '../../core/sdk/index.ts';
import { LogisticRegression, Pipeline, StandardScaler, StringIndexer, VectorAssembler } from '../../core/ml/index.ts';
import { typeToString } from '../../core/types/data-type.ts';
import type { Schema } from '../../core/types/schema.ts';
import { binaryRows } from './helpers.ts';

const shape = (s: Schema) => s.fields.map((f) => `${f.name}:${typeToString(f.type)}`);

describe('transformSchema agrees with transform', () => {
  test('for every fitted stage of a pipeline', async () => {
    const session = Session.local();
    const rows = binaryRows(120, 9).map((r, i) => ({ ...r, tag: ['a', 'b', 'c'][i % 3]! }));
    const df = session.createDataFrame(rows);
    const model = await new Pipeline({
      stages: [
        new StringIndexer({ inputCol: 'tag', outputCol: 'tagIndex', handleInvalid: 'keep' }),
        new VectorAssembler({ inputCols: ['x1', 'x2', 'x3', 'tagIndex'], outputCol: 'raw' }),
        new StandardScaler({ inputCol: 'raw', outputCol: 'features' }),
        new LogisticRegression(),
      ],
    }).fit(df);
    let current: DataFrame = df;
    for (const stage of model.stages) {
      const predicted = stage.transformSchema(current.schema);
      current = await stage.transform(current);
      expect(shape(current.schema)).toEqual(shape(predicted));
    }
    expect(shape(model.transformSchema(df.schema))).toEqual(shape(current.schema));
    expect(shape(current.schema).slice(-3)).toEqual(['rawPrediction:vector<float32>[2]', 'probability:vector<float32>[2]', 'prediction:float64']);
  });
});

describe('LogisticRegression options', () => {
  test('a weight of 2 is the same as the row twice', async () => {
    const session = Session.local();
    const rows = binaryRows(80, 21);
    const assemble = (d: ReturnType<Session['createDataFrame']>) => new VectorAssembler({ inputCols: ['x1', 'x2', 'x3'] }).transform(d);
    const weighted = await assemble(session.createDataFrame(rows.map((r, i) => ({ ...r, w: i % 4 === 0 ? 2 : 1 }))));
    const duplicated = await assemble(session.createDataFrame(rows.flatMap((r, i) => (i % 4 === 0 ? [r, r] : [r]))));
    const opts = { regParam: 0.05, maxIter: 300, tol: 1e-12, standardization: false };
    const a = await new LogisticRegression({ ...opts, weightCol: 'w' }).fit(weighted);
    const b = await new LogisticRegression(opts).fit(duplicated);
    for (let j = 0; j < 3; j++) expect(a.coefficients[j]).toBeCloseTo(b.coefficients[j]!, 6);
    expect(a.intercept).toBeCloseTo(b.intercept, 6);
  });

  test("output columns named '' are left out; threshold moves binomial predictions", async () => {
    const session = Session.local();
    const df = await new VectorAssembler({ inputCols: ['x1', 'x2', 'x3'] }).transform(session.createDataFrame(binaryRows(100, 5)));
    const model = await new LogisticRegression({ rawPredictionCol: '', probabilityCol: '' }).fit(df);
    const out = await model.transform(df);
    expect(out.columns.slice(-2)).toEqual(['features', 'prediction']);
    const all1 = await (await model.copy({ threshold: 0 }).transform(df)).collect();
    expect(all1.every((r) => r['prediction'] === 1)).toBe(true);
    const all0 = await (await model.copy({ threshold: 1 }).transform(df)).collect();
    expect(all0.every((r) => r['prediction'] === 0)).toBe(true);
  });

  test('a NULL feature vector gives NULL predictions', async () => {
    const session = Session.local();
    const df = await new VectorAssembler({ inputCols: ['x1', 'x2', 'x3'] }).transform(session.createDataFrame(binaryRows(50, 8)));
    const model = await new LogisticRegression().fit(df);
    const probe = session.createDataFrame([{ features: [0.1, 0.2, 0.3] }, { features: null }], { features: 'vector[3]' });
    const out = await (await model.transform(probe)).collect();
    expect(out[0]!['prediction']).not.toBeNull();
    expect(out[1]).toMatchObject({ rawPrediction: null, probability: null, prediction: null });
  });
});

test("the package exports the ML API as 'ml'", () => {
  expect(new ml.VectorAssembler({ inputCols: ['a'] }).className).toBe('VectorAssembler');
  expect(typeof ml.PipelineModel.load).toBe('function');
});

test("a pipeline fits and predicts the same under 'distributed' and 'stages' planning as locally", async () => {
  const rows = binaryRows(150, 13).map((r, i) => ({ ...r, tag: ['p', 'q', 'r', 's'][i % 4]! }));
  const run = async (session: Session) => {
    const df = session.createDataFrame(rows);
    const model = await new Pipeline({
      stages: [
        new StringIndexer({ inputCol: 'tag', outputCol: 'tagIndex' }),
        new VectorAssembler({ inputCols: ['x1', 'x2', 'x3', 'tagIndex'], outputCol: 'raw' }),
        new StandardScaler({ inputCol: 'raw', outputCol: 'features', withMean: true }),
        new LogisticRegression({ regParam: 0.02 }),
      ],
    }).fit(df);
    const out = await (await model.transform(df)).select('tagIndex', 'probability', 'prediction').collect();
    return out.map((r) => [r['tagIndex'], Array.from(r['probability'] as Float32Array), r['prediction']]);
  };
  const local = await run(Session.local());
  expect(await run(Session.local({ planning: 'distributed' }))).toEqual(local);
  expect(await run(Session.local({ planning: 'stages' }))).toEqual(local);
});
