// Sub-batching and out-of-memory halving, with injected runners (no GPU needed to exercise the logic), and the
// choice of execution provider.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { isOutOfMemoryError, localBatchContext, runInSubBatches, type LoadedOnnxModel, type TensorData } from '../../core/ml/index.ts';
import { cudaProviderInstalled, cudaUnusableReason, providerCandidates } from '../../core/ml/onnx/execution-provider.ts';
import { loadOnnxModel } from '../../core/ml/onnx/loaded-models.ts';
import { inferInSubBatches } from '../../core/ml/onnx/run-batches.ts';
import { ExecutionError } from '../../core/types/errors.ts';
import { gemmReluModel } from './onnx-builders.ts';
import { tempDir } from './helpers.ts';

const oom = () => new Error('[ONNXRuntimeError] : 6 : RUNTIME_EXCEPTION : CUDA failure 2: out of memory');

describe('runInSubBatches', () => {
  test('halves the sub-batch on out-of-memory, keeps the smaller size, and covers every row once, in order', async () => {
    const calls: [number, number][] = [];
    const halvings: number[] = [];
    const { results, rows } = await runInSubBatches(
      21,
      16,
      async (start, end) => {
        calls.push([start, end]);
        if (end - start > 3) throw oom();
        return Array.from({ length: end - start }, (_, i) => start + i);
      },
      { onHalve: (r) => halvings.push(r) },
    );
    expect(halvings).toEqual([8, 4, 2]);
    expect(rows).toBe(2);
    expect(results.flat()).toEqual(Array.from({ length: 21 }, (_, i) => i));
    expect(calls.slice(0, 4)).toEqual([[0, 16], [0, 8], [0, 4], [0, 2]]);
    expect(calls.filter(([s, e]) => e - s <= 3)).toHaveLength(11); // after halving, only 2-row slices (and the last 1)
  });

  test('other errors are not retried; out-of-memory on one row fails clearly', async () => {
    let calls = 0;
    await expect(runInSubBatches(10, 4, async () => (calls++, Promise.reject(new Error('Invalid rank for input'))))).rejects.toThrow('Invalid rank');
    expect(calls).toBe(1);
    await expect(runInSubBatches(4, 4, async () => Promise.reject(oom()))).rejects.toThrow(ExecutionError);
    await expect(runInSubBatches(4, 4, async () => Promise.reject(oom()))).rejects.toThrow(/ran out of memory on a single row/);
  });

  test('recognizes out-of-memory messages of the CPU and CUDA providers', () => {
    expect(isOutOfMemoryError(oom())).toBe(true);
    expect(isOutOfMemoryError(new Error('std::bad_alloc'))).toBe(true);
    expect(isOutOfMemoryError(new Error('Failed to allocate memory for requested buffer of size 123'))).toBe(true);
    expect(isOutOfMemoryError(new Error('Invalid rank for input: x'))).toBe(false);
  });
});

describe('inferInSubBatches', () => {
  /** A fake loaded model that doubles its input and runs out of memory above `fits` rows. */
  function fakeModel(fits: number, seen: number[]): LoadedOnnxModel {
    return {
      provider: 'cpu',
      inputNames: ['x'],
      outputNames: ['y'],
      inputShapes: {},
      release: async () => {},
      run: async (feeds) => {
        const x = feeds['x']!;
        seen.push(x.dims[0]!);
        if (x.dims[0]! > fits) throw oom();
        return { y: { data: x.data.map((v) => v * 2), dims: x.dims } };
      },
    };
  }

  async function run(model: LoadedOnnxModel, n: number, maxBatchRows?: number) {
    const input = Float32Array.from({ length: n }, (_, i) => i);
    const out = new Float32Array(n);
    const ctx = localBatchContext('auto', maxBatchRows);
    await inferInSubBatches(
      model,
      {
        rows: n,
        batchSize: 64,
        outputNames: ['y'],
        feeds: (s, e): Record<string, TensorData> => ({ x: { data: input.subarray(s, e), dims: [e - s, 1] } }),
        take: (o, s) => out.set(o['y']!.data, s),
      },
      ctx,
    );
    return { out, ctx };
  }

  test('the size learned from out-of-memory is kept on the model for the next batches; metrics are reported', async () => {
    const seen: number[] = [];
    const model = fakeModel(10, seen);
    const first = await run(model, 50, 40);
    expect(Array.from(first.out)).toEqual(Array.from({ length: 50 }, (_, i) => 2 * i));
    expect(seen.slice(0, 3)).toEqual([40, 20, 10]);
    expect(model.maxRows).toBe(10);
    expect(first.ctx.reported.get('onnxSubBatchRows')).toBe(10);
    expect(first.ctx.reported.get('onnxRows')).toBe(50);
    expect(first.ctx.reported.get('provider')).toBe('cpu');
    expect(first.ctx.reported.get('onnxHalvings')).toBe(2);
    seen.length = 0;
    await run(model, 30, 40);
    expect(seen).toEqual([10, 10, 10]); // no failed attempt this time
  });

  test('without maxBatchRows the stage batchSize applies', async () => {
    const seen: number[] = [];
    await run(fakeModel(1000, seen), 130);
    expect(seen).toEqual([64, 64, 2]);
  });
});

describe('execution providers', () => {
  test("'cpu' forces the CPU; 'auto' and 'gpu' try CUDA first only where its provider is installed", () => {
    expect(providerCandidates('cpu', true)).toEqual(['cpu']);
    expect(providerCandidates('auto', true)).toEqual(['cuda', 'cpu']);
    expect(providerCandidates('gpu', true)).toEqual(['cuda', 'cpu']);
    expect(providerCandidates('gpu', false)).toEqual(['cpu']);
  });

  test.runIf(!cudaProviderInstalled())('where CUDA cannot start, a model asked to try it runs on the CPU, and CUDA is not tried again', async () => {
    const dir = tempDir();
    afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
    const file = path.join(dir, 'm.onnx');
    fs.writeFileSync(file, gemmReluModel([[1, 0, 0]], [0, 0, 0]));
    const model = await loadOnnxModel({ location: file, exposed: [] }, 'gpu', ['cuda', 'cpu']);
    expect(model.provider).toBe('cpu');
    expect(cudaUnusableReason()).toMatch(/./);
    expect(providerCandidates('gpu')).toEqual(['cpu']);
    const out = await model.run({ x: { data: Float32Array.of(2, -3), dims: [2, 1] } }, ['y']);
    expect(Array.from(out['y']!.data)).toEqual([2, 0, 0, 0, 0, 0]);
  });
});
