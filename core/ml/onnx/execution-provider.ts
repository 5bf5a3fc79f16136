// Which onnxruntime execution provider a task can use. The CUDA provider is a separate library that
// onnxruntime-node's install step downloads only when asked (the project's .npmrc skips it; a GPU image installs
// it, see README), so its presence is checked before asking for it — asking without it logs an error from
// native code — and a session that fails to start on CUDA (no GPU, driver mismatch) falls back to the CPU.
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import type { InferenceDevice } from '../batch-model.ts';

export type ExecutionProvider = 'cpu' | 'cuda';

let cudaInstalled: boolean | undefined;
/** Why a CUDA session could not start in this process (then CUDA is not tried again), or null. */
let cudaUnusable: string | null = null;

/** Records that CUDA failed here (no GPU, driver mismatch): later models go straight to the CPU. */
export function markCudaUnusable(reason: string): void {
  cudaUnusable = reason;
}

/** Why CUDA is not used in this process although its provider is installed, or null. */
export function cudaUnusableReason(): string | null {
  return cudaUnusable;
}

/** Whether onnxruntime-node's CUDA provider library is installed next to its binding. */
export function cudaProviderInstalled(): boolean {
  if (cudaInstalled === undefined) {
    try {
      const main = createRequire(import.meta.url).resolve('onnxruntime-node');
      const binDir = path.join(path.dirname(main), '..', 'bin', 'napi-v6', process.platform, process.arch);
      cudaInstalled = fs.existsSync(path.join(binDir, 'libonnxruntime_providers_cuda.so')) || fs.existsSync(path.join(binDir, 'onnxruntime_providers_cuda.dll'));
    } catch {
      cudaInstalled = false;
    }
  }
  return cudaInstalled;
}

/** The providers to try, best first: 'cpu' forces the CPU; 'gpu' and 'auto' try CUDA where it is installed. */
export function providerCandidates(device: InferenceDevice, cudaAvailable = cudaProviderInstalled() && cudaUnusable === null): ExecutionProvider[] {
  if (device === 'cpu' || !cudaAvailable) return ['cpu'];
  return ['cuda', 'cpu'];
}
