// What an ONNX model declares about its inputs and outputs (names, element types, shapes with named dynamic
// dimensions), read from the file without starting a runtime session: for choosing inputCols, outputNames and
// outputSizes, and for the sizes `OnnxModel.forModel` fills in.
import onnxProto from 'onnx-proto';
import type { onnx as Onnx } from 'onnx-proto';
import { DataError } from '../../types/errors.ts';
import { readModelBytes } from './model-bytes.ts';

const { onnx } = onnxProto;

export interface TensorInfo {
  readonly name: string;
  /** 'FLOAT', 'INT64', … (ONNX's names); 'UNKNOWN' when the model does not say. */
  readonly elemType: string;
  /** Dimensions: numbers where fixed, names (or '?') where dynamic; null when the model declares no shape. */
  readonly shape: readonly (number | string)[] | null;
}

export interface ModelDescription {
  readonly inputs: readonly TensorInfo[];
  readonly outputs: readonly TensorInfo[];
}

export function describeModelBytes(bytes: Uint8Array, source: string): ModelDescription {
  let model: Onnx.ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (e) {
    throw new DataError(`model '${source}' is not an ONNX model: ${(e as Error).message}`, { cause: e });
  }
  const graph = model.graph;
  if (!graph) throw new DataError(`model '${source}' has no graph`);
  const initializers = new Set((graph.initializer ?? []).map((t) => t.name ?? ''));
  return {
    inputs: (graph.input ?? []).filter((v) => !initializers.has(v.name ?? '')).map(tensorInfo),
    outputs: (graph.output ?? []).map(tensorInfo),
  };
}

/** The names of the declared inputs and outputs. */
export function graphSignature(bytes: Uint8Array): { inputs: string[]; outputs: string[] } {
  const d = describeModelBytes(bytes, 'model');
  return { inputs: d.inputs.map((t) => t.name), outputs: d.outputs.map((t) => t.name) };
}

/** The model at `uri` (local path, file:// or s3://), described. */
export async function describeOnnxModel(uri: string): Promise<ModelDescription> {
  return describeModelBytes(await readModelBytes(uri), uri);
}

function tensorInfo(v: Onnx.IValueInfoProto): TensorInfo {
  const tensor = v.type?.tensorType;
  const elem = tensor?.elemType ?? 0;
  const dims = tensor?.shape?.dim;
  return {
    name: v.name ?? '',
    elemType: elem ? (onnx.TensorProto.DataType[elem] ?? String(elem)) : 'UNKNOWN',
    shape: dims ? dims.map((d) => (d.dimValue !== undefined && d.dimValue !== null && Number(d.dimValue) > 0 ? Number(d.dimValue) : d.dimParam || '?')) : null,
  };
}

/** Values per row of a tensor whose first dimension is the rows: 0 for a [rows] tensor, null when not fixed. */
export function perRowSize(info: TensorInfo): number | null {
  if (!info.shape || info.shape.length === 0) return null;
  if (info.shape.length === 1) return 0;
  const rest = info.shape.slice(1);
  return rest.every((d) => typeof d === 'number') ? (rest as number[]).reduce((a, b) => a * b, 1) : null;
}
