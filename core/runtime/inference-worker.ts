// The inference worker's side of a task: the same task as an executor runs (core/runtime/task-runner.ts), on a
// worker that keeps models loaded across tasks (the process-wide cache in core/exec/apply-model.ts) and offers
// its accelerator. What differs from a Lambda executor is only configuration, read once from the environment:
//
//   SQUALL_INFERENCE_DEVICE          'cpu' | 'gpu' | 'auto' (default: 'auto' when an NVIDIA device is visible, else 'cpu')
//   SQUALL_INFERENCE_MAX_BATCH_ROWS  the most rows handed to a model at once (models halve it on out-of-memory)
//
// Models report the execution provider that ran (onnxruntime's 'cuda' or 'cpu') through `ctx.report`; it comes
// back in the task's metrics (`reported.provider`).
import { existsSync } from 'node:fs';
import type { ModelDevice } from '../expr/model-ref.ts';
import { AnalysisError } from '../types/errors.ts';
import type { ExecutorRequest, ExecutorResponse } from './protocol.ts';
import { type TaskRunEnv, runTask } from './task-runner.ts';

export interface InferenceWorkerConfig {
  readonly device: ModelDevice;
  readonly maxBatchRows?: number;
}

/** Whether this machine shows an NVIDIA GPU to the process (the device node, or the container runtime's variable). */
export function gpuVisible(env: NodeJS.ProcessEnv = process.env): boolean {
  const visible = env.NVIDIA_VISIBLE_DEVICES;
  if (visible !== undefined) return visible !== '' && visible !== 'void' && visible !== 'none';
  return existsSync('/dev/nvidia0');
}

export function inferenceConfigFromEnv(env: NodeJS.ProcessEnv = process.env): InferenceWorkerConfig {
  const raw = env.SQUALL_INFERENCE_DEVICE;
  if (raw !== undefined && raw !== 'cpu' && raw !== 'gpu' && raw !== 'auto') {
    throw new AnalysisError(`SQUALL_INFERENCE_DEVICE must be cpu, gpu or auto, got '${raw}'`);
  }
  const device: ModelDevice = (raw as ModelDevice | undefined) ?? (gpuVisible(env) ? 'auto' : 'cpu');
  const rows = env.SQUALL_INFERENCE_MAX_BATCH_ROWS;
  if (rows !== undefined && !(Number.isInteger(Number(rows)) && Number(rows) > 0)) {
    throw new AnalysisError(`SQUALL_INFERENCE_MAX_BATCH_ROWS must be a positive integer, got '${rows}'`);
  }
  return { device, ...(rows !== undefined ? { maxBatchRows: Number(rows) } : {}) };
}

/** Runs one task on this inference worker. */
export function runInferenceTask(request: ExecutorRequest, env: Omit<TaskRunEnv, 'inference'>, config: InferenceWorkerConfig): Promise<ExecutorResponse> {
  return runTask(request, { ...env, inference: config });
}
