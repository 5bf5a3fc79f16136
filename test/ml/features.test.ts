// Feature stages against hand-computed expectations; parameters; schema errors naming the column.
import { describe, expect, test } from 'vitest';
import { Session } from '../../core/sdk/index.ts';
import { StandardScaler, StandardScalerModel, StringIndexer, VectorAssembler, orderLabels, summarizePartition, combineSummaries } from '../../core/ml/index.ts';
import { AnalysisError, DataError } from '../../core/types/errors.ts';

const vec = (v: unknown) => Array.from(v as Float32Array);

describe('params', () => {
  test('defaults, constructor overrides, set, copy and explainParams', () => {
    const s = new StandardScaler({ inputCol: 'features', outputCol: 'scaled', withMean: true });
    expect(s.get('withMean')).toBe(true);
    expect(s.get('withStd')).toBe(true); // default
    expect(s.isSet('withStd')).toBe(false);
    expect(s.uid).toMatch(/^StandardScaler_[0-9a-f]{12}$/);
    s.set('withStd', false).set({ outputCol: 'out' });
    expect(s.get('withStd')).toBe(false);
    const c = s.copy({ withMean: false });
    expect(c.uid).toBe(s.uid);
    expect(c).toBeInstanceOf(StandardScaler);
    expect(c.get('withMean')).toBe(false);
    expect(s.get('withMean')).toBe(true); // the original is unchanged
    expect(c.get('outputCol')).toBe('out');
    const text = s.explainParams();
    expect(text).toContain("withMean: center each dimension at zero mean before scaling. (default: false, current: true)");
    expect(text.split('\n')).toHaveLength(4);
    expect(s.extractParamMap()).toEqual({ inputCol: 'features', outputCol: 'out', withMean: true, withStd: false });
  });

  test('bad values fail when set, naming the stage and parameter', () => {
    expect(() => new StringIndexer({ handleInvalid: 'drop' as 'skip' })).toThrow(/parameter 'handleInvalid' expects one of 'error', 'skip', 'keep', got "drop"/);
    expect(() => new StandardScaler().set('withMean', 1 as unknown as boolean)).toThrow(AnalysisError);
    expect(() => new StandardScaler({ nope: 1 } as never)).toThrow(/has no parameter 'nope'/);
    expect(() => new StringIndexer().get('inputCol')).toThrow(/'inputCol'.*is not set and has no default/);
  });
});

describe('VectorAssembler', () => {
  const rows = [
    { a: 1, b: 2.5, v: [10, 20], c: 'x' },
    { a: 3, b: null, v: [30, 40], c: 'y' },
    { a: 5, b: 1.5, v: null, c: 'x' },
    { a: 7, b: -1, v: [70, 80], c: 'z' },
  ];
  const df = () => Session.local().createDataFrame(rows, { a: 'bigint', b: 'double', v: 'vector[2]', c: 'string' });

  test('concatenates numbers and vectors; handleInvalid skip / keep / error', async () => {
    const skip = await new VectorAssembler({ inputCols: ['a', 'v', 'b'], outputCol: 'f', handleInvalid: 'skip' }).transform(df());
    expect(skip.schema.fields.at(-1)).toMatchObject({ name: 'f', type: { kind: 'vector', size: 4 } });
    const got = await skip.collect();
    expect(got.map((r) => r['a'])).toEqual([1, 7]);
    expect(got.map((r) => vec(r['f']))).toEqual([[1, 10, 20, 2.5], [7, 70, 80, -1]]);
    const keep = await (await new VectorAssembler({ inputCols: ['a', 'v', 'b'], outputCol: 'f', handleInvalid: 'keep' }).transform(df())).collect();
    expect(keep.map((r) => vec(r['f']))).toEqual([[1, 10, 20, 2.5], [3, 30, 40, NaN], [5, NaN, NaN, 1.5], [7, 70, 80, -1]]);
    await expect(new VectorAssembler({ inputCols: ['a', 'b'] }).transform(df())).rejects.toThrow(/column 'b' is NULL in row 2/);
    await expect(new VectorAssembler({ inputCols: ['a', 'b'] }).transform(df())).rejects.toThrow(DataError);
  });

  test('schema checks name the column', () => {
    const s = df().schema;
    expect(() => new VectorAssembler({ inputCols: ['a', 'c'] }).transformSchema(s)).toThrow(/column 'c' must be numeric, boolean or a vector, but it is utf8/);
    expect(() => new VectorAssembler({ inputCols: ['a', 'zz'] }).transformSchema(s)).toThrow(/input column 'zz' is missing/);
    expect(() => new VectorAssembler({ inputCols: ['a'], outputCol: 'b' }).transformSchema(s)).toThrow(/output column 'b' already exists/);
  });
});

describe('StandardScaler', () => {
  const data = [[1, 10, 5], [2, 20, 5], [3, 60, 5], [6, 30, 5]];

  test('mean and sample std from one pass of sums; transform matches hand computation', async () => {
    const session = Session.local();
    const df = session.createDataFrame(data.map((v, i) => ({ id: i, features: v })));
    const model = await new StandardScaler({ withMean: true }).fit(df);
    // by hand: dimension 0: mean 3, sample variance (4+1+0+9)/3 = 14/3; dimension 1: mean 30, variance (400+100+900+0)/3; dimension 2: constant
    expect([...model.mean]).toEqual([3, 30, 5]);
    expect(model.std[0]).toBeCloseTo(Math.sqrt(14 / 3), 12);
    expect(model.std[1]).toBeCloseTo(Math.sqrt(1400 / 3), 12);
    expect(model.std[2]).toBe(0);
    const out = await (await model.transform(df)).collect();
    out.forEach((r, i) => {
      const f = vec(r['scaledFeatures']);
      expect(f[0]).toBeCloseTo((data[i]![0]! - 3) / Math.sqrt(14 / 3), 5);
      expect(f[1]).toBeCloseTo((data[i]![1]! - 30) / Math.sqrt(1400 / 3), 5);
      expect(f[2]).toBe(0); // zero deviation scales to 0
    });
    const stdOnly = await (await model.copy({ withMean: false }).transform(df)).collect();
    expect(vec(stdOnly[0]!['scaledFeatures'])[0]).toBeCloseTo(1 / Math.sqrt(14 / 3), 5);
  });

  test('partition sums combine to the whole', () => {
    const vs = data.map((v) => Float32Array.from(v));
    const whole = summarizePartition(vs, 3);
    const parts = combineSummaries([summarizePartition(vs.slice(0, 1), 3), summarizePartition(vs.slice(1), 3), summarizePartition([null], 3)], 3);
    expect(parts).toEqual(whole);
  });

  test('schema: input must be a vector of the fitted size', () => {
    const s = Session.local().createDataFrame([{ features: [1, 2] }, { features: [3, 4] }]).schema;
    const m = new StandardScalerModel({}, new Float64Array(3), new Float64Array(3));
    expect(() => m.transformSchema(s)).toThrow(/column 'features' must be a vector of 3 values.*vector<float32>\[2\]/);
    const t = Session.local().createDataFrame([{ features: 1.5 }]).schema;
    expect(() => new StandardScaler().transformSchema(t)).toThrow(/column 'features' must be a vector \(vector<float32>\[n\]\), but it is float64/);
  });
});

describe('StringIndexer', () => {
  // counts: b 3, a 2, c 2, d 1 → frequencyDesc with alphabetical ties: b, a, c, d
  const labels = ['c', 'b', 'a', 'b', 'd', 'a', 'b', 'c'];
  const df = () => Session.local().createDataFrame(labels.map((s, i) => ({ id: i, s })));

  test('frequency-descending order, ties alphabetical (as Spark); the other orders', async () => {
    const model = await new StringIndexer({ inputCol: 's', outputCol: 'i' }).fit(df());
    expect(model.labels).toEqual(['b', 'a', 'c', 'd']);
    const out = await (await model.transform(df())).collect();
    expect(out.map((r) => r['i'])).toEqual([2, 0, 1, 0, 3, 1, 0, 2]);
    const counts = [{ label: 'b', count: 3 }, { label: 'a', count: 2 }, { label: 'c', count: 2 }, { label: 'd', count: 1 }];
    expect(orderLabels(counts, 'frequencyAsc')).toEqual(['d', 'a', 'c', 'b']);
    expect(orderLabels(counts, 'alphabetAsc')).toEqual(['a', 'b', 'c', 'd']);
    expect(orderLabels(counts, 'alphabetDesc')).toEqual(['d', 'c', 'b', 'a']);
  });

  test('the transform is lazy: a CASE expression in the plan', async () => {
    const model = await new StringIndexer({ inputCol: 's', outputCol: 'i', handleInvalid: 'keep' }).fit(df());
    const out = await model.transform(df());
    expect(await out.explainString('simple')).toMatch(/CASE/i);
  });

  test("unseen labels and NULLs: 'error' names them, 'skip' drops, 'keep' gives numLabels", async () => {
    const model = await new StringIndexer({ inputCol: 's', outputCol: 'i' }).fit(df());
    const other = Session.local().createDataFrame([{ s: 'a' }, { s: 'zz' }, { s: null }, { s: 'd' }], { s: 'string' });
    await expect(model.transform(other)).rejects.toThrow(/column 's' has the label 'zz', which was not seen when fitting/);
    const nulls = Session.local().createDataFrame([{ s: 'a' }, { s: null }], { s: 'string' });
    await expect(model.transform(nulls)).rejects.toThrow(/column 's' has a NULL value/);
    const skip = await (await model.copy({ handleInvalid: 'skip' }).transform(other)).collect();
    expect(skip).toEqual([{ s: 'a', i: 1 }, { s: 'd', i: 3 }]);
    const keep = await (await model.copy({ handleInvalid: 'keep' }).transform(other)).collect();
    expect(keep.map((r) => r['i'])).toEqual([1, 4, 4, 3]);
  });

  test('numeric labels are indexed as strings; schema errors name the column', async () => {
    const d = Session.local().createDataFrame([{ n: 3 }, { n: 1 }, { n: 3 }]);
    const model = await new StringIndexer({ inputCol: 'n', outputCol: 'i' }).fit(d);
    expect(model.labels).toEqual(['3', '1']);
    const v = Session.local().createDataFrame([{ v: [1, 2] }]);
    expect(() => new StringIndexer({ inputCol: 'v', outputCol: 'i' }).transformSchema(v.schema)).toThrow(/column 'v' must be a string.*but it is vector<float32>\[2\]/);
  });
});

describe('IndexToString', () => {
  test('maps indices back to the indexer labels, lazily; out of range gives NULL', async () => {
    const { IndexToString } = await import('../../core/ml/index.ts');
    const session = Session.local();
    const df = session.createDataFrame([{ s: 'b' }, { s: 'a' }, { s: 'b' }, { s: 'c' }]);
    const indexer = await new StringIndexer({ inputCol: 's', outputCol: 'i' }).fit(df);
    const back = new IndexToString({ inputCol: 'i', outputCol: 's2', labels: indexer.labels });
    const out = await back.transform(await indexer.transform(df));
    expect((await out.collect()).map((r) => r['s2'])).toEqual(['b', 'a', 'b', 'c']);
    expect(await out.explainString('simple')).toMatch(/CASE/i);
    const odd = await back.transform(session.createDataFrame([{ i: 7.0 }, { i: 1.0 }]));
    expect((await odd.collect()).map((r) => r['s2'])).toEqual([null, 'a']);
    expect(() => new IndexToString({ inputCol: 'i', outputCol: 'o' }).transformSchema(out.schema)).toThrow(/'labels'.*is not set/);
  });
});

describe('many labels', () => {
  // 3000 labels (above CASE_LIMIT): label k appears (k % 7) + 1 times, so the order is by count, then by name.
  const n = 3000;
  const name = (k: number) => `v${String(k).padStart(4, '0')}`;
  const rows = Array.from({ length: n }, (_, k) => Array.from({ length: (k % 7) + 1 }, () => ({ s: name(k) }))).flat();
  const expected = Array.from({ length: n }, (_, k) => k).sort((a, b) => (b % 7) - (a % 7) || a - b).map(name);

  test('StringIndexer orders and indexes thousands of labels (lookup path); IndexToString maps them back', async () => {
    const { IndexToString, CASE_LIMIT } = await import('../../core/ml/index.ts');
    expect(n).toBeGreaterThan(CASE_LIMIT);
    const session = Session.local();
    const df = session.createDataFrame(rows);
    const model = await new StringIndexer({ inputCol: 's', outputCol: 'i' }).fit(df);
    expect(model.labels).toEqual(expected);
    const out = await (await model.transform(df)).collect();
    const position = new Map(expected.map((l, i) => [l, i]));
    expect(out.every((r) => r['i'] === position.get(r['s'] as string))).toBe(true);
    const back = await (await new IndexToString({ inputCol: 'i', outputCol: 't', labels: model.labels }).transform(await model.transform(df))).collect();
    expect(back.every((r) => r['t'] === r['s'])).toBe(true);
    const probe = session.createDataFrame([{ s: name(5) }, { s: 'nope' }, { s: null }], { s: 'string' });
    await expect(model.transform(probe)).rejects.toThrow(/label 'nope', which was not seen/);
    expect((await (await model.copy({ handleInvalid: 'skip' }).transform(probe)).collect()).map((r) => r['i'])).toEqual([position.get(name(5))]);
    expect((await (await model.copy({ handleInvalid: 'keep' }).transform(probe)).collect()).map((r) => r['i'])).toEqual([position.get(name(5)), n, n]);
  });

  test('at CASE_LIMIT labels the transform is still one CASE expression', async () => {
    const { CASE_LIMIT } = await import('../../core/ml/index.ts');
    const df = Session.local().createDataFrame(Array.from({ length: CASE_LIMIT }, (_, k) => ({ s: name(k) })));
    const model = await new StringIndexer({ inputCol: 's', outputCol: 'i', handleInvalid: 'skip' }).fit(df);
    const out = await model.transform(df);
    expect(await out.explainString('simple')).toMatch(/CASE/i);
    expect((await out.collect()).map((r) => r['i'])).toEqual(Array.from({ length: CASE_LIMIT }, (_, k) => k));
  });
});
