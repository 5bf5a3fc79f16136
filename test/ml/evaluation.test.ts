// Evaluators on inputs whose metrics are known by hand.
import { describe, expect, test } from 'vitest';
import { Session } from '../../core/sdk/index.ts';
import { BinaryClassificationEvaluator, MulticlassClassificationEvaluator, areaUnderPR, areaUnderROC, multiclassMetrics } from '../../core/ml/index.ts';
import { rng } from './helpers.ts';

describe('binary', () => {
  test('AUC of a perfect, a reversed, a constant and a random ranking', () => {
    const labels = [0, 0, 1, 0, 1, 1, 0, 1];
    const perfect = labels.map((y, i) => y + i * 0.01);
    expect(areaUnderROC(perfect, labels)).toBe(1);
    expect(areaUnderROC(perfect.map((s) => -s), labels)).toBe(0);
    expect(areaUnderROC(labels.map(() => 0.5), labels)).toBe(0.5); // one tied threshold: the diagonal
    expect(areaUnderPR(perfect, labels)).toBe(1);
    const r = rng(3);
    const many = Array.from({ length: 20000 }, () => (r() < 0.3 ? 1 : 0));
    expect(areaUnderROC(many.map(() => r()), many)).toBeCloseTo(0.5, 1);
    expect(areaUnderPR(many.map(() => r()), many)).toBeCloseTo(0.3, 1);
  });

  test('a worked example: AUC is the fraction of correctly ordered (positive, negative) pairs, ties half', () => {
    const scores = [0.9, 0.8, 0.7, 0.7, 0.4, 0.2];
    const labels = [1, 0, 1, 0, 1, 0];
    // pairs (pos, neg): 0.9>all 3 → 3; 0.7 vs 0.8 → 0, vs 0.7 → ½, vs 0.2 → 1; 0.4 vs 0.2 → 1 → 5.5 / 9
    expect(areaUnderROC(scores, labels)).toBeCloseTo(5.5 / 9, 12);
    // PR points (recall, precision): (1/3, 1), (1/3, 1/2), (2/3, 1/2), (1, 3/5), (1, 1/2), start (0, 1)
    const pr = (1 / 3) * 1 + 0 + (1 / 3) * 0.5 + (1 / 3) * ((0.5 + 0.6) / 2) + 0;
    expect(areaUnderPR(scores, labels)).toBeCloseTo(pr, 12);
  });

  test('on a DataFrame: vector scores use element 1, numbers are used as they are', async () => {
    const session = Session.local();
    const df = session.createDataFrame([
      { rawPrediction: [-2, 2], s: 0.9, label: 1 },
      { rawPrediction: [1, -1], s: 0.1, label: 0 },
      { rawPrediction: [-0.5, 0.5], s: 0.2, label: 0 },
      { rawPrediction: [0.1, -0.1], s: 0.8, label: 1 },
    ]);
    // element 1 ranks: 2 (1), 0.5 (0), -0.1 (1), -1 (0) → pairs: 2 beats both, -0.1 beats -1 only → 3/4
    expect(await new BinaryClassificationEvaluator().evaluate(df)).toBe(0.75);
    expect(await new BinaryClassificationEvaluator({ rawPredictionCol: 's' }).evaluate(df)).toBe(1);
    await expect(new BinaryClassificationEvaluator({ rawPredictionCol: 'nope' }).evaluate(df)).rejects.toThrow(/column 'nope'/);
  });
});

describe('multiclass', () => {
  test('accuracy and label-weighted F1 on a known confusion matrix', async () => {
    // labels:      0 0 0 1 1 2
    // predictions: 0 0 1 1 2 2
    const labels = [0, 0, 0, 1, 1, 2];
    const preds = [0, 0, 1, 1, 2, 2];
    const m = multiclassMetrics(preds, labels);
    expect(m.accuracy).toBeCloseTo(4 / 6, 12);
    // class 0: P 1, R 2/3, F1 0.8; class 1: P ½, R ½, F1 ½; class 2: P ½, R 1, F1 2/3
    expect(m.f1).toBeCloseTo((3 * 0.8 + 2 * 0.5 + 1 * (2 / 3)) / 6, 12);
    expect(m.weightedPrecision).toBeCloseTo((3 * 1 + 2 * 0.5 + 0.5) / 6, 12);
    expect(m.weightedRecall).toBeCloseTo(4 / 6, 12);
    const df = Session.local().createDataFrame(labels.map((label, i) => ({ label, prediction: preds[i]! })));
    expect(await new MulticlassClassificationEvaluator().evaluate(df)).toBeCloseTo(m.f1, 12);
    expect(await new MulticlassClassificationEvaluator({ metricName: 'accuracy' }).evaluate(df)).toBeCloseTo(4 / 6, 12);
  });
});
