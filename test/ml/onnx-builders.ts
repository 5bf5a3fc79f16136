// Small ONNX models built from known weights with onnx-proto, so tests can check outputs against a reference
// computation in JavaScript.
import onnxProto from 'onnx-proto';
import type { onnx as Onnx } from 'onnx-proto';

const { onnx } = onnxProto;
const FLOAT = onnx.TensorProto.DataType.FLOAT;

function floatTensor(name: string, dims: number[], values: readonly number[]): Onnx.ITensorProto {
  return { name, dims, dataType: FLOAT, floatData: [...values] };
}

function valueInfo(name: string, dims: (number | string)[]): Onnx.IValueInfoProto {
  return { name, type: { tensorType: { elemType: FLOAT, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } } };
}

function model(graph: Onnx.IGraphProto): Uint8Array {
  return onnx.ModelProto.encode(onnx.ModelProto.create({ irVersion: 8, producerName: 'squall-test', opsetImport: [{ domain: '', version: 13 }], graph })).finish();
}

/**
 * x [N, d] → h = x·W + b (Gemm) → y = relu(h) [N, k]; s = Σ_j y[:, j] [N] (ReduceSum, keepdims 0).
 * W is d × k, row-major.
 */
export function gemmReluModel(W: readonly (readonly number[])[], b: readonly number[]): Uint8Array {
  const d = W.length;
  const k = b.length;
  return model({
    name: 'gemm_relu',
    node: [
      { opType: 'Gemm', input: ['x', 'W', 'b'], output: ['h'], name: 'gemm' },
      { opType: 'Relu', input: ['h'], output: ['y'], name: 'relu' },
      { opType: 'ReduceSum', input: ['y', 'axes'], output: ['s'], name: 'sum', attribute: [{ name: 'keepdims', type: onnx.AttributeProto.AttributeType.INT, i: 0 }] },
    ],
    initializer: [floatTensor('W', [d, k], W.flat()), floatTensor('b', [k], b), { name: 'axes', dims: [1], dataType: onnx.TensorProto.DataType.INT64, int64Data: [1] }],
    input: [valueInfo('x', ['N', d])],
    output: [valueInfo('y', ['N', k]), valueInfo('s', ['N'])],
  });
}

/**
 * x [N, 3, H, W] → c = conv(x, K) + bias (no padding, stride 1) → r = relu(c) → g = GlobalAveragePool(r)
 * → out = flatten(g) [N, Cout]. K is [Cout][3][kh][kw].
 */
export function convPoolModel(K: readonly (readonly (readonly (readonly number[])[])[])[], bias: readonly number[], inputDims: (number | string)[] = ['N', 3, 'H', 'W']): Uint8Array {
  const cout = K.length;
  const kh = K[0]![0]!.length;
  const kw = K[0]![0]![0]!.length;
  return model({
    name: 'conv_pool',
    node: [
      { opType: 'Conv', input: ['x', 'K', 'B'], output: ['c'], name: 'conv' },
      { opType: 'Relu', input: ['c'], output: ['r'], name: 'relu' },
      { opType: 'GlobalAveragePool', input: ['r'], output: ['g'], name: 'gap' },
      { opType: 'Flatten', input: ['g'], output: ['out'], name: 'flatten', attribute: [{ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: 1 }] },
    ],
    initializer: [floatTensor('K', [cout, 3, kh, kw], K.flat(3)), floatTensor('B', [cout], bias)],
    input: [valueInfo('x', inputDims)],
    output: [valueInfo('out', ['N', cout])],
  });
}

