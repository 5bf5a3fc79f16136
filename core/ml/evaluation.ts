// Evaluators, as Spark's: a metric of a DataFrame of predictions. They read only the columns they need (one
// small select), then compute on the driver.
import type { DataFrame } from '../sdk/dataframe.ts';
import { isNumeric } from '../types/data-type.ts';
import { DataError } from '../types/errors.ts';
import type { Schema } from '../types/schema.ts';
import { NUMERIC_TYPE, PipelineStage, requireColumn } from './base.ts';
import { toNumber } from './batches.ts';
import { type ParamSpecs, param } from './params.ts';
import { type LoadOptions, loadStage, registerStage } from './persistence.ts';

export abstract class Evaluator<P extends object = any> extends PipelineStage<P> {
  abstract evaluate(df: DataFrame): Promise<number>;
  /** Whether a larger metric is better (true for every metric here). */
  isLargerBetter(): boolean {
    return true;
  }
  /** Evaluators add no columns. */
  transformSchema(schema: Schema): Schema {
    this.checkSchema(schema);
    return schema;
  }
  protected abstract checkSchema(schema: Schema): void;
}

// ---- binary ----

export interface BinaryClassificationEvaluatorParams {
  rawPredictionCol: string;
  labelCol: string;
  metricName: 'areaUnderROC' | 'areaUnderPR';
}

const BINARY_SPECS: ParamSpecs<BinaryClassificationEvaluatorParams> = {
  rawPredictionCol: param.string('score column: a vector (its element 1 is the score of class 1, as rawPrediction or probability) or a number', 'rawPrediction'),
  labelCol: param.string('label column (0 or 1)', 'label'),
  metricName: param.oneOf('metric', ['areaUnderROC', 'areaUnderPR'] as const, 'areaUnderROC'),
};

/** (score, label) pairs → the ROC curve's points over distinct thresholds, from (0,0) to (1,1). */
export function rocCurve(scores: readonly number[], labels: readonly number[]): { fpr: number[]; tpr: number[]; precision: number[]; recall: number[] } {
  const order = scores.map((_, i) => i).sort((a, b) => scores[b]! - scores[a]!);
  const positives = labels.reduce((a, y) => a + (y > 0.5 ? 1 : 0), 0);
  const negatives = labels.length - positives;
  const fpr = [0];
  const tpr = [0];
  const precision: number[] = [];
  const recall: number[] = [];
  let tp = 0;
  let fp = 0;
  for (let i = 0; i < order.length; ) {
    const s = scores[order[i]!]!;
    // Every row with this score crosses the threshold at once (ties form one point).
    while (i < order.length && scores[order[i]!] === s) {
      if (labels[order[i]!]! > 0.5) tp++;
      else fp++;
      i++;
    }
    fpr.push(negatives ? fp / negatives : 0);
    tpr.push(positives ? tp / positives : 0);
    precision.push(tp / (tp + fp));
    recall.push(positives ? tp / positives : 0);
  }
  return { fpr, tpr, precision, recall };
}

function trapezoid(x: readonly number[], y: readonly number[]): number {
  let area = 0;
  for (let i = 1; i < x.length; i++) area += ((x[i]! - x[i - 1]!) * (y[i]! + y[i - 1]!)) / 2;
  return area;
}

/** Area under the ROC curve (ties count half, the trapezoid rule over distinct thresholds). */
export function areaUnderROC(scores: readonly number[], labels: readonly number[]): number {
  const { fpr, tpr } = rocCurve(scores, labels);
  return trapezoid(fpr, tpr);
}

/** Area under the precision-recall curve, as Spark: the curve starts at (recall 0, precision of the first threshold). */
export function areaUnderPR(scores: readonly number[], labels: readonly number[]): number {
  const { precision, recall } = rocCurve(scores, labels);
  if (precision.length === 0) return 0;
  return trapezoid([0, ...recall], [precision[0]!, ...precision]);
}

export class BinaryClassificationEvaluator extends Evaluator<BinaryClassificationEvaluatorParams> {
  constructor(params: Partial<BinaryClassificationEvaluatorParams> = {}, uid?: string) {
    super(BINARY_SPECS, 'BinaryClassificationEvaluator', params, uid);
  }

  static async load(path: string, options?: LoadOptions): Promise<BinaryClassificationEvaluator> {
    return (await loadStage(path, options, 'BinaryClassificationEvaluator')) as BinaryClassificationEvaluator;
  }

  protected checkSchema(schema: Schema): void {
    requireColumn(this, schema, this.get('rawPredictionCol'), (t) => t.kind === 'vector' || isNumeric(t), 'a vector or numeric');
    requireColumn(this, schema, this.get('labelCol'), isNumeric, NUMERIC_TYPE);
  }

  async evaluate(df: DataFrame): Promise<number> {
    this.checkSchema(df.schema);
    const scoreCol = this.get('rawPredictionCol');
    const labelCol = this.get('labelCol');
    const rows = await df.select(scoreCol, labelCol).collect();
    const scores: number[] = [];
    const labels: number[] = [];
    for (const r of rows) {
      const s = r[scoreCol];
      const score = s instanceof Float32Array ? (s.length > 1 ? s[1]! : s[0]!) : toNumber(s);
      const y = toNumber(r[labelCol]);
      if (score === null || y === null) continue;
      if (y !== 0 && y !== 1) throw new DataError(`${this.uid}: column '${labelCol}' must hold 0 or 1, found ${y}`);
      scores.push(score);
      labels.push(y);
    }
    return this.get('metricName') === 'areaUnderROC' ? areaUnderROC(scores, labels) : areaUnderPR(scores, labels);
  }
}

// ---- multiclass ----

export interface MulticlassClassificationEvaluatorParams {
  predictionCol: string;
  labelCol: string;
  metricName: 'f1' | 'accuracy' | 'weightedPrecision' | 'weightedRecall';
}

const MULTI_SPECS: ParamSpecs<MulticlassClassificationEvaluatorParams> = {
  predictionCol: param.string('predicted class column', 'prediction'),
  labelCol: param.string('true class column', 'label'),
  metricName: param.oneOf("metric: 'f1' is the label-frequency-weighted F1, as Spark", ['f1', 'accuracy', 'weightedPrecision', 'weightedRecall'] as const, 'f1'),
};

/** The metrics from (prediction, label) pairs, weighted by each label's frequency as Spark's MulticlassMetrics. */
export function multiclassMetrics(predictions: readonly number[], labels: readonly number[]): { accuracy: number; f1: number; weightedPrecision: number; weightedRecall: number } {
  const n = labels.length;
  const tp = new Map<number, number>();
  const predicted = new Map<number, number>();
  const actual = new Map<number, number>();
  let correct = 0;
  for (let i = 0; i < n; i++) {
    const p = predictions[i]!;
    const y = labels[i]!;
    actual.set(y, (actual.get(y) ?? 0) + 1);
    predicted.set(p, (predicted.get(p) ?? 0) + 1);
    if (p === y) {
      correct++;
      tp.set(y, (tp.get(y) ?? 0) + 1);
    }
  }
  let f1 = 0;
  let wp = 0;
  let wr = 0;
  for (const [label, count] of actual) {
    const t = tp.get(label) ?? 0;
    const precision = predicted.get(label) ? t / predicted.get(label)! : 0;
    const recall = t / count;
    const f = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
    f1 += (f * count) / n;
    wp += (precision * count) / n;
    wr += (recall * count) / n;
  }
  return { accuracy: n ? correct / n : 0, f1, weightedPrecision: wp, weightedRecall: wr };
}

export class MulticlassClassificationEvaluator extends Evaluator<MulticlassClassificationEvaluatorParams> {
  constructor(params: Partial<MulticlassClassificationEvaluatorParams> = {}, uid?: string) {
    super(MULTI_SPECS, 'MulticlassClassificationEvaluator', params, uid);
  }

  static async load(path: string, options?: LoadOptions): Promise<MulticlassClassificationEvaluator> {
    return (await loadStage(path, options, 'MulticlassClassificationEvaluator')) as MulticlassClassificationEvaluator;
  }

  protected checkSchema(schema: Schema): void {
    requireColumn(this, schema, this.get('predictionCol'), isNumeric, NUMERIC_TYPE);
    requireColumn(this, schema, this.get('labelCol'), isNumeric, NUMERIC_TYPE);
  }

  async evaluate(df: DataFrame): Promise<number> {
    this.checkSchema(df.schema);
    const pc = this.get('predictionCol');
    const lc = this.get('labelCol');
    const rows = await df.select(pc, lc).collect();
    const preds: number[] = [];
    const labels: number[] = [];
    for (const r of rows) {
      const p = toNumber(r[pc]);
      const y = toNumber(r[lc]);
      if (p === null || y === null) continue;
      preds.push(p);
      labels.push(y);
    }
    return multiclassMetrics(preds, labels)[this.get('metricName')];
  }
}

registerStage('BinaryClassificationEvaluator', (ctx) => new BinaryClassificationEvaluator(ctx.metadata.params as Partial<BinaryClassificationEvaluatorParams>, ctx.metadata.uid));
registerStage('MulticlassClassificationEvaluator', (ctx) => new MulticlassClassificationEvaluator(ctx.metadata.params as Partial<MulticlassClassificationEvaluatorParams>, ctx.metadata.uid));
