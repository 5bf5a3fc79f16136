// The models this process has loaded, kept across tasks: an inference worker or a warm executor runs many
// tasks of the same model, and creating a session (reading the bytes, rewriting the graph, optimizing it) costs
// far more than a batch. Keyed by the model's location, the tensors exposed (a cut) and the provider choice.
import type * as ort from 'onnxruntime-node';
import { ExecutionError } from '../../types/errors.ts';
import type { InferenceDevice } from '../batch-model.ts';
import { type ExecutionProvider, markCudaUnusable, providerCandidates } from './execution-provider.ts';
import { exposeTensors } from './graph-cut.ts';
import { readModelBytes } from './model-bytes.ts';
import type { InferenceRunner, TensorData } from './tensor.ts';

export interface OnnxModelRef {
  /** Where the model is: local path, file:// or s3://. */
  readonly location: string;
  /** Tensors to make the outputs (an intermediate tensor cuts the graph there); empty: the model's own outputs. */
  readonly exposed: readonly string[];
}

export interface LoadedOnnxModel {
  readonly provider: ExecutionProvider;
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /** Each input's declared shape (a string for a named, dynamic dimension), where the model declares one. */
  readonly inputShapes: Readonly<Record<string, readonly (number | string)[]>>;
  readonly run: InferenceRunner;
  /** Frees the runtime's session now; only for a caller that knows no task uses it any more. */
  release(): Promise<void>;
  /** The largest sub-batch known to fit, learned from out-of-memory errors (undefined: none seen). */
  maxRows?: number;
}

/** Models (and their bytes) kept per process, least recently used evicted first: a worker serving many models must not hold them all. */
export const MAX_LOADED_ONNX_MODELS = 8;

const bytesCache = new Map<string, Promise<Uint8Array>>();
const models = new Map<string, Promise<LoadedOnnxModel>>();

/** Looks `key` up in `cache`, marking it most recently used. */
function touch<V>(cache: Map<string, V>, key: string): V | undefined {
  const v = cache.get(key);
  if (v !== undefined) {
    cache.delete(key);
    cache.set(key, v);
  }
  return v;
}

function evictOldest<V>(cache: Map<string, V>): void {
  while (cache.size > MAX_LOADED_ONNX_MODELS) cache.delete(cache.keys().next().value as string);
}

const bytesKey = (ref: OnnxModelRef) => `${ref.location}\u0000${ref.exposed.join('\u0000')}`;

/** The model's bytes, rewritten to expose `ref.exposed` (cached: the rewrite is done once per process). */
export function modelBytes(ref: OnnxModelRef): Promise<Uint8Array> {
  const key = bytesKey(ref);
  let p = touch(bytesCache, key);
  if (!p) {
    p = readModelBytes(ref.location).then((b) => (ref.exposed.length > 0 ? exposeTensors(b, ref.exposed, ref.location) : b));
    bytesCache.set(key, p);
    p.catch(() => bytesCache.delete(key)); // a failed read may succeed later (the file appears)
    evictOldest(bytesCache);
  }
  return p;
}

/**
 * The loaded model for `ref` on `device` (loaded once per process and provider choice). `candidates` are the
 * providers to try, best first (tests force CUDA to exercise the fallback on a machine without it).
 */
export function loadOnnxModel(ref: OnnxModelRef, device: InferenceDevice, candidates: readonly ExecutionProvider[] = providerCandidates(device)): Promise<LoadedOnnxModel> {
  const key = `${bytesKey(ref)}\u0001${candidates.join(',')}`;
  let p = touch(models, key);
  if (!p) {
    p = createModel(ref, candidates);
    models.set(key, p);
    p.catch(() => models.delete(key));
    // An evicted session is not released here: a task may still be running on it. Dropping the reference lets
    // the garbage collector free it (the binding releases the native session when its object is collected).
    evictOldest(models);
  }
  return p;
}

/** Drops every loaded model and cached byte string (tests; a worker that must free memory). */
export function clearLoadedOnnxModels(): void {
  bytesCache.clear();
  models.clear();
}

/** How many models this process holds loaded (metrics, tests). */
export function loadedOnnxModelCount(): number {
  return models.size;
}

async function createModel(ref: OnnxModelRef, candidates: readonly ExecutionProvider[]): Promise<LoadedOnnxModel> {
  // Imported here, so that only processes that run a model load the native runtime.
  const ort = await import('onnxruntime-node');
  const bytes = await modelBytes(ref);
  let session: ort.InferenceSession | null = null;
  let provider: ExecutionProvider = 'cpu';
  let cudaError: unknown = null;
  if (candidates[0] === 'cuda') {
    try {
      session = await ort.InferenceSession.create(bytes, { executionProviders: ['cuda', 'cpu'] });
      provider = 'cuda';
    } catch (e) {
      cudaError = e; // no usable GPU here: the CPU provider below, and for the models loaded after this one
      markCudaUnusable((e as Error).message ?? String(e));
    }
  }
  if (!session) {
    try {
      session = await ort.InferenceSession.create(bytes, { executionProviders: ['cpu'] });
    } catch (e) {
      throw new ExecutionError(`cannot load model '${ref.location}' into onnxruntime: ${(e as Error).message}${cudaError ? ` (the CUDA provider failed too: ${(cudaError as Error).message})` : ''}`, { cause: e });
    }
  }
  const s = session;
  const run: InferenceRunner = async (feeds, outputNames) => {
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const [name, t] of Object.entries(feeds)) ortFeeds[name] = new ort.Tensor('float32', t.data, t.dims);
    const result = await s.run(ortFeeds, outputNames as string[]);
    const out: Record<string, TensorData> = {};
    for (const name of outputNames) {
      const t = result[name]!;
      out[name] = { data: toFloat32(t.data, name), dims: t.dims };
    }
    return out;
  };
  const inputShapes: Record<string, readonly (number | string)[]> = {};
  for (const m of s.inputMetadata) if (m.isTensor) inputShapes[m.name] = m.shape;
  return { provider, inputNames: s.inputNames, outputNames: s.outputNames, inputShapes, run, release: () => s.release() };
}

function toFloat32(data: ort.Tensor['data'], name: string): Float32Array {
  if (data instanceof Float32Array) return data;
  if (data instanceof BigInt64Array || data instanceof BigUint64Array) return Float32Array.from(data, Number);
  if (ArrayBuffer.isView(data)) return Float32Array.from(data as unknown as ArrayLike<number>);
  throw new ExecutionError(`model output '${name}' is not numeric (strings cannot become feature values)`);
}
