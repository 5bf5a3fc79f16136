// Tensors as plain data: what the model runner takes and returns, independent of onnxruntime's classes (so the
// batching logic can be tested with an injected runner), and the pooling a featurizer applies to them.
import { DataError } from '../../types/errors.ts';

export interface TensorData {
  readonly data: Float32Array;
  readonly dims: readonly number[];
}

/** Runs a model on named input tensors and returns the named output tensors. */
export type InferenceRunner = (feeds: Readonly<Record<string, TensorData>>, outputNames: readonly string[]) => Promise<Record<string, TensorData>>;

/** Values per row of a tensor whose first dimension is the rows. */
export function rowWidth(t: TensorData): number {
  return t.dims.slice(1).reduce((a, b) => a * b, 1);
}

/**
 * Global average pooling of a [N, C, ...spatial] tensor to [N, C] (the mean over the spatial positions); a
 * [N, C] tensor is returned as it is. `name` names the tensor in errors.
 */
export function globalAveragePool(t: TensorData, name: string): Float32Array {
  if (t.dims.length < 2) throw new DataError(`tensor '${name}' has shape [${t.dims.join(', ')}]; pooling needs [rows, channels, ...]`);
  const [n, c] = t.dims as [number, number];
  const spatial = t.dims.slice(2).reduce((a, b) => a * b, 1);
  if (spatial === 1) return t.data.length === n * c ? t.data : t.data.slice(0, n * c);
  const out = new Float32Array(n * c);
  for (let i = 0; i < n * c; i++) {
    // Summed in double precision, as onnxruntime's GlobalAveragePool accumulates, so results match it closely.
    let s = 0;
    const base = i * spatial;
    for (let k = 0; k < spatial; k++) s += t.data[base + k]!;
    out[i] = s / spatial;
  }
  return out;
}
