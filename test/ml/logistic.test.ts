// LogisticRegression: the binomial optimum against an independent Newton solver, the gradient at the solution,
// multinomial on 3 classes, and the distributed shape: per-partition gradients summed equal the whole-data
// gradient for any partitioning, and the fitted model does not depend on the number of partitions.
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { Session } from '../../core/sdk/index.ts';
import {
  LogisticRegression,
  type LogisticPartition,
  type LogisticSetup,
  MulticlassClassificationEvaluator,
  Pipeline,
  VectorAssembler,
  combineGradients,
  logisticLossAndGradient,
  minimizeLbfgs,
  splitPartitions,
} from '../../core/ml/index.ts';
import { AnalysisError, DataError } from '../../core/types/errors.ts';
import { featureStd, featureSummary } from '../../core/ml/classification/logistic-loss.ts';
import { binaryRows, rng, solve, threeClassRows } from './helpers.ts';

/** Newton's method for mean log-loss + λ/2‖w‖² (intercept last, not penalized): the reference optimum. */
function newtonLogistic(X: number[][], y: number[], lambda: number): number[] {
  const n = X.length;
  const d = X[0]!.length;
  const beta = new Array<number>(d + 1).fill(0);
  for (let it = 0; it < 50; it++) {
    const g = new Array<number>(d + 1).fill(0);
    const H = Array.from({ length: d + 1 }, () => new Array<number>(d + 1).fill(0));
    for (let i = 0; i < n; i++) {
      const xi = [...X[i]!, 1];
      const m = xi.reduce((a, v, j) => a + v * beta[j]!, 0);
      const p = 1 / (1 + Math.exp(-m));
      for (let j = 0; j <= d; j++) {
        g[j] = g[j]! + ((p - y[i]!) * xi[j]!) / n;
        for (let k = 0; k <= d; k++) H[j]![k] = H[j]![k]! + (p * (1 - p) * xi[j]! * xi[k]!) / n;
      }
    }
    for (let j = 0; j < d; j++) {
      g[j] = g[j]! + lambda * beta[j]!;
      H[j]![j] = H[j]![j]! + lambda;
    }
    const step = solve(H, g);
    for (let j = 0; j <= d; j++) beta[j] = beta[j]! - step[j]!;
    if (Math.max(...step.map(Math.abs)) < 1e-13) break;
  }
  return beta;
}

async function assembled(session: Session, rows: Record<string, number>[], cols: string[]) {
  return new VectorAssembler({ inputCols: cols, outputCol: 'features' }).transform(session.createDataFrame(rows));
}

describe('binomial', () => {
  const rows = binaryRows(400, 7);
  const X = rows.map((r) => [r.x1, r.x2, r.x3]);
  const y = rows.map((r) => r.label);

  test.each([0.01, 0.1])('coefficients match an independent Newton solver (regParam %s, no standardization)', async (lambda) => {
    const df = await assembled(Session.local(), rows, ['x1', 'x2', 'x3']);
    const model = await new LogisticRegression({ regParam: lambda, standardization: false, maxIter: 500, tol: 1e-12, numPartitions: 4 }).fit(df);
    const ref = newtonLogistic(
      // float32 features, as the vector column stores them
      X.map((r) => r.map((v) => Math.fround(v))),
      y,
      lambda,
    );
    const coef = [...model.coefficients];
    for (let j = 0; j < 3; j++) expect(coef[j]).toBeCloseTo(ref[j]!, 5);
    expect(model.intercept).toBeCloseTo(ref[3]!, 5);
    expect(model.summary!.numPartitions).toBe(4);
    expect(model.summary!.objectiveHistory.at(-1)!).toBeLessThan(model.summary!.objectiveHistory[0]!);
  });

  test('with standardization the objective gradient is ~0 at the solution and accuracy is high', async () => {
    const df = await assembled(Session.local(), rows, ['x1', 'x2', 'x3']);
    const model = await new LogisticRegression({ regParam: 0, maxIter: 300, tol: 1e-12 }).fit(df);
    // Unregularized: the gradient of the mean log-loss in the original space (computed here) vanishes.
    const g = [0, 0, 0, 0];
    X.forEach((x, i) => {
      const xf = x.map((v) => Math.fround(v));
      const m = model.intercept + xf.reduce((a, v, j) => a + v * model.coefficients[j]!, 0);
      const p = 1 / (1 + Math.exp(-m));
      [...xf, 1].forEach((v, j) => (g[j] = g[j]! + ((p - y[i]!) * v) / X.length));
    });
    for (const v of g) expect(Math.abs(v)).toBeLessThan(1e-6);
    // The true weights were [1.5, -2, 0.5]: the signs are recovered.
    expect(Math.sign(model.coefficients[0]!)).toBe(1);
    expect(Math.sign(model.coefficients[1]!)).toBe(-1);
    const out = await model.transform(df);
    const acc = await new MulticlassClassificationEvaluator({ metricName: 'accuracy' }).evaluate(out);
    expect(acc).toBeGreaterThan(0.8);
    // The output columns and their consistency.
    const r0 = (await out.collect())[0]!;
    const raw = r0['rawPrediction'] as Float32Array;
    const prob = r0['probability'] as Float32Array;
    expect(raw[0]).toBeCloseTo(-raw[1]!, 5);
    expect(prob[0]! + prob[1]!).toBeCloseTo(1, 5);
    expect(prob[1]).toBeCloseTo(1 / (1 + Math.exp(-raw[1]!)), 5);
    expect(r0['prediction']).toBe(prob[1]! > 0.5 ? 1 : 0);
  });

  test('the model does not depend on the partitioning', async () => {
    const session = Session.local();
    const df = await assembled(session, rows, ['x1', 'x2', 'x3']);
    const fit = (n: number) => new LogisticRegression({ regParam: 0.05, maxIter: 200, tol: 1e-12, numPartitions: n }).fit(df);
    const [a, b] = [await fit(1), await fit(7)];
    for (let j = 0; j < 3; j++) expect(b.coefficients[j]).toBeCloseTo(a.coefficients[j]!, 6);
    expect(b.intercept).toBeCloseTo(a.intercept, 6);
  });
});

describe('multinomial', () => {
  test('three classes: accuracy, probabilities, and a zero objective gradient (computed independently)', async () => {
    const rows = threeClassRows(300, 11);
    const df = await assembled(Session.local(), rows, ['x1', 'x2']);
    const lambda = 0.01;
    const model = await new LogisticRegression({ regParam: lambda, standardization: false, maxIter: 500, tol: 1e-12, numPartitions: 3 }).fit(df);
    expect(model.numClasses).toBe(3);
    expect(() => model.coefficients).toThrow(AnalysisError);
    const W = model.coefficientMatrix;
    const b = model.interceptVector;
    expect(W).toHaveLength(3);
    // Gradient of mean softmax loss + λ/2‖W‖² w.r.t. W and b.
    const gW = W.map(() => [0, 0]);
    const gb = [0, 0, 0];
    for (const r of rows) {
      const x = [Math.fround(r.x1), Math.fround(r.x2)];
      const m = W.map((w, k) => b[k]! + w[0]! * x[0]! + w[1]! * x[1]!);
      const mx = Math.max(...m);
      const e = m.map((v) => Math.exp(v - mx));
      const s = e.reduce((a, v) => a + v, 0);
      for (let k = 0; k < 3; k++) {
        const d = e[k]! / s - (k === r.label ? 1 : 0);
        gb[k] = gb[k]! + d / rows.length;
        for (let j = 0; j < 2; j++) gW[k]![j] = gW[k]![j]! + (d * x[j]!) / rows.length;
      }
    }
    for (let k = 0; k < 3; k++) {
      expect(Math.abs(gb[k]!)).toBeLessThan(1e-6);
      for (let j = 0; j < 2; j++) expect(Math.abs(gW[k]![j]! + lambda * W[k]![j]!)).toBeLessThan(1e-6);
    }
    // Intercepts centered, and with L2 the coefficients of each feature sum to 0 over the classes.
    expect(b[0]! + b[1]! + b[2]!).toBeCloseTo(0, 8);
    expect(W[0]![0]! + W[1]![0]! + W[2]![0]!).toBeCloseTo(0, 5);
    const out = await model.transform(df);
    expect(out.schema.fields.find((f) => f.name === 'probability')!.type).toEqual({ kind: 'vector', size: 3 });
    const acc = await new MulticlassClassificationEvaluator({ metricName: 'accuracy' }).evaluate(out);
    expect(acc).toBeGreaterThan(0.9);
    for (const r of (await out.collect()).slice(0, 10)) {
      const p = r['probability'] as Float32Array;
      expect(p[0]! + p[1]! + p[2]!).toBeCloseTo(1, 5);
      expect(r['prediction']).toBe(p.indexOf(Math.max(...p)));
    }
  });

  test("family 'binomial' with three labels fails naming the column", async () => {
    const df = await assembled(Session.local(), threeClassRows(30, 1), ['x1', 'x2']);
    await expect(new LogisticRegression({ family: 'binomial' }).fit(df)).rejects.toThrow(/family 'binomial'.*'label'/);
  });
});

describe('distributed shape', () => {
  const arb = fc.record({
    n: fc.integer({ min: 1, max: 60 }),
    d: fc.integer({ min: 1, max: 4 }),
    k: fc.integer({ min: 2, max: 4 }),
    parts: fc.integer({ min: 1, max: 9 }),
    seed: fc.integer({ min: 1, max: 1e6 }),
    multinomial: fc.boolean(),
    fitIntercept: fc.boolean(),
    scaled: fc.boolean(),
    weighted: fc.boolean(),
  });

  test('per-partition losses and gradients summed equal the whole-data loss and gradient (property)', () => {
    fc.assert(
      fc.property(arb, ({ n, d, k, parts, seed, multinomial, fitIntercept, scaled, weighted }) => {
        const r = rng(seed);
        const numClasses = multinomial ? k : 2;
        const whole: LogisticPartition = {
          numRows: n,
          numFeatures: d,
          features: Float64Array.from({ length: n * d }, () => r() * 4 - 2),
          labels: Float64Array.from({ length: n }, () => Math.floor(r() * numClasses)),
          weights: weighted ? Float64Array.from({ length: n }, () => r() * 2) : null,
        };
        const setup: LogisticSetup = { numClasses, multinomial, fitIntercept, featureScale: scaled ? Float64Array.from({ length: d }, () => r() + 0.5) : null };
        const size = (multinomial ? numClasses : 1) * (d + (fitIntercept ? 1 : 0));
        const beta = Float64Array.from({ length: size }, () => r() * 2 - 1);
        const all = logisticLossAndGradient(whole, beta, setup);
        const split = splitPartitions([whole], parts);
        expect(split.reduce((a, p) => a + p.numRows, 0)).toBe(n);
        const sum = combineGradients(split.map((p) => logisticLossAndGradient(p, beta, setup)), size);
        expect(sum.loss).toBeCloseTo(all.loss, 9);
        expect(sum.count).toBeCloseTo(all.count, 9);
        for (let j = 0; j < size; j++) expect(sum.gradient[j]).toBeCloseTo(all.gradient[j]!, 9);
      }),
      { numRuns: 200 },
    );
  });

  test('the partition gradient equals finite differences of the partition loss', () => {
    const r = rng(5);
    const part: LogisticPartition = {
      numRows: 20,
      numFeatures: 3,
      features: Float64Array.from({ length: 60 }, () => r() * 2 - 1),
      labels: Float64Array.from({ length: 20 }, () => Math.floor(r() * 3)),
      weights: null,
    };
    const setup: LogisticSetup = { numClasses: 3, multinomial: true, fitIntercept: true, featureScale: null };
    const beta = Float64Array.from({ length: 12 }, () => r() - 0.5);
    const { gradient } = logisticLossAndGradient(part, beta, setup);
    for (let j = 0; j < 12; j++) {
      const h = 1e-6;
      const up = Float64Array.from(beta);
      const down = Float64Array.from(beta);
      up[j] = up[j]! + h;
      down[j] = down[j]! - h;
      const fd = (logisticLossAndGradient(part, up, setup).loss - logisticLossAndGradient(part, down, setup).loss) / (2 * h);
      expect(gradient[j]).toBeCloseTo(fd, 5);
    }
  });

  test('L-BFGS minimizes an ill-conditioned quadratic', async () => {
    const scales = [1, 10, 100, 1000];
    const res = await minimizeLbfgs(
      async (x) => ({
        value: x.reduce((a, v, i) => a + 0.5 * scales[i]! * (v - i) ** 2, 0),
        gradient: x.map((v, i) => scales[i]! * (v - i)),
      }),
      new Float64Array(4),
      { maxIter: 200, tol: 1e-14 },
    );
    expect(res.converged).toBe(true);
    res.x.forEach((v, i) => expect(v).toBeCloseTo(i, 6));
  });
});

describe('input checks', () => {
  test('schema errors name the column and the expected type, before any data is read', async () => {
    const session = Session.local();
    const df = session.createDataFrame([{ f: 'a', label: 1 }]);
    expect(() => new LogisticRegression({ featuresCol: 'f' }).transformSchema(df.schema)).toThrow(/column 'f' must be a vector.*but it is utf8/);
    expect(() => new LogisticRegression().transformSchema(df.schema)).toThrow(/input column 'features' is missing/);
    const p = new Pipeline({ stages: [new VectorAssembler({ inputCols: ['label', 'nope'] }), new LogisticRegression()] });
    await expect(p.fit(df)).rejects.toThrow(/column 'nope'/);
  });

  test('labels must be class indices; the error names the column and row', async () => {
    const df = await assembled(Session.local(), [{ x: 1, label: 0 }, { x: 2, label: 0.5 }], ['x']);
    await expect(new LogisticRegression().fit(df)).rejects.toThrow(DataError);
    await expect(new LogisticRegression().fit(df)).rejects.toThrow(/column 'label'.*row 2 has 0.5/);
    const huge = await assembled(Session.local(), [{ x: 1, label: 0 }, { x: 2, label: 123456789 }], ['x']);
    await expect(new LogisticRegression().fit(huge)).rejects.toThrow(/column 'label' has the label 123456789; labels are class indices/);
  });
});

test('standardization uses the unbiased weighted deviation (sample deviation with unit weights), summed over partitions', () => {
  const features = Float64Array.of(1, 10, 2, 20, 4, 10, 5, 40);
  const part = (w: Float64Array | null, from: number, to: number): LogisticPartition => ({
    numRows: to - from,
    numFeatures: 2,
    features: features.slice(from * 2, to * 2),
    labels: new Float64Array(to - from),
    weights: w ? w.slice(from, to) : null,
  });
  const unit = featureStd([part(null, 0, 1), part(null, 1, 4)].map(featureSummary), 2);
  // column 0: 1, 2, 4, 5 → mean 3, Σ(x−m)² = 10, /3
  expect(unit[0]).toBeCloseTo(Math.sqrt(10 / 3), 12);
  const w = Float64Array.of(1, 2, 1, 0.5);
  const weighted = featureStd([part(w, 0, 2), part(w, 2, 4)].map(featureSummary), 2);
  const W = 4.5;
  const mean = (1 * 1 + 2 * 2 + 1 * 4 + 0.5 * 5) / W;
  const ss = 1 * (1 - mean) ** 2 + 2 * (2 - mean) ** 2 + 1 * (4 - mean) ** 2 + 0.5 * (5 - mean) ** 2;
  expect(weighted[0]).toBeCloseTo(Math.sqrt(ss / (W - (1 + 4 + 1 + 0.25) / W)), 12);
  expect(featureSummary(part(w, 0, 4)).weightSum).toBe(W);
});
