// Rewriting an ONNX model so that chosen tensors — intermediate ones included — are its outputs. onnxruntime
// returns only graph outputs, so cutting a network at a named tensor (a featurizer's embedding layer) means
// making that tensor an output; the nodes it does not depend on are pruned, so the cut model also runs faster.
import onnxProto from 'onnx-proto';
import type { onnx as Onnx } from 'onnx-proto';
import { closest } from 'fastest-levenshtein';
import { DataError } from '../../types/errors.ts';

const { onnx } = onnxProto;

/**
 * `bytes` rewritten so its outputs are exactly `tensors` (in that order) and it holds only the nodes, inputs and
 * initializers they need. `source` names the model in errors.
 */
export function exposeTensors(bytes: Uint8Array, tensors: readonly string[], source: string): Uint8Array {
  if (tensors.length === 0) throw new DataError(`model '${source}': name at least one tensor to expose`);
  const model = decodeModel(bytes, source);
  const graph = model.graph as Onnx.GraphProto;
  const producer = new Map<string, Onnx.INodeProto>();
  for (const node of graph.node) for (const out of node.output ?? []) if (out) producer.set(out, node);
  const initializers = new Map(graph.initializer.map((t) => [t.name ?? '', t]));
  const graphInputs = new Map(graph.input.map((v) => [v.name ?? '', v]));
  for (const t of tensors) {
    if (!producer.has(t) && !graphInputs.has(t) && !initializers.has(t)) {
      const known = [...producer.keys()];
      throw new DataError(`model '${source}' has no tensor '${t}'${known.length ? `; did you mean '${closest(t, known)}'?` : ''} (${known.length} node outputs)`);
    }
  }
  // Walk back from the exposed tensors to everything they depend on.
  const needed = new Set<string>();
  const keptNodes = new Set<Onnx.INodeProto>();
  const stack = [...tensors];
  while (stack.length > 0) {
    const name = stack.pop()!;
    if (needed.has(name)) continue;
    needed.add(name);
    const node = producer.get(name);
    if (!node || keptNodes.has(node)) continue;
    keptNodes.add(node);
    for (const input of node.input ?? []) if (input) stack.push(input);
    // Subgraphs (If, Loop, Scan) may read names of this scope implicitly: keep whatever they mention.
    for (const attr of node.attribute ?? []) for (const sub of [attr.g, ...(attr.graphs ?? [])]) if (sub) for (const n of sub.node ?? []) stack.push(...(n.input ?? []).filter(Boolean));
  }
  const typeOf = new Map<string, Onnx.ITypeProto>();
  for (const v of [...graph.valueInfo, ...graph.output, ...graph.input]) if (v.name && v.type) typeOf.set(v.name, v.type);
  graph.node = graph.node.filter((n) => keptNodes.has(n));
  graph.initializer = graph.initializer.filter((t) => needed.has(t.name ?? ''));
  graph.input = graph.input.filter((v) => needed.has(v.name ?? ''));
  graph.valueInfo = graph.valueInfo.filter((v) => needed.has(v.name ?? '') && !tensors.includes(v.name ?? ''));
  // A graph output needs a type; an intermediate tensor rarely has one recorded, and the element type is all
  // onnxruntime checks (float: what featurizers pool). Shapes are left for the runtime to infer.
  graph.output = tensors.map((name) => onnx.ValueInfoProto.create({ name, type: typeOf.get(name) ?? { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT } } }));
  return onnx.ModelProto.encode(model).finish();
}

/** The model, with a graph. */
function decodeModel(bytes: Uint8Array, source: string): Onnx.ModelProto {
  let model: Onnx.ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (e) {
    throw new DataError(`model '${source}' is not an ONNX model: ${(e as Error).message}`, { cause: e });
  }
  if (!model.graph) throw new DataError(`model '${source}' has no graph`);
  return model;
}
