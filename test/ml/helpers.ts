// Shared test data: a seeded generator and labeled datasets.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect } from 'vitest';

import { seededRandom as rng } from '../../core/util/seeded-random.ts';

export { rng };

export function gaussian(r: () => number): number {
  const u = Math.max(r(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r());
}

/** Rows { x1, x2, x3, label } from a logistic model with weights w and intercept b (noisy, not separable). */
export function binaryRows(n: number, seed: number, w = [1.5, -2, 0.5], b = 0.3): { x1: number; x2: number; x3: number; label: number }[] {
  const r = rng(seed);
  const rows = [];
  for (let i = 0; i < n; i++) {
    const x = [gaussian(r), gaussian(r) * 2 + 1, gaussian(r) * 0.5];
    const m = b + w[0]! * x[0]! + w[1]! * x[1]! + w[2]! * x[2]!;
    const p = 1 / (1 + Math.exp(-m));
    rows.push({ x1: x[0]!, x2: x[1]!, x3: x[2]!, label: r() < p ? 1 : 0 });
  }
  return rows;
}

/** Three Gaussian blobs in 2-d, labels 0..2 (mostly separable). */
export function threeClassRows(n: number, seed: number): { x1: number; x2: number; label: number }[] {
  const r = rng(seed);
  const centers = [[0, 3], [3, -2], [-3, -2]];
  const rows = [];
  for (let i = 0; i < n; i++) {
    const k = i % 3;
    rows.push({ x1: centers[k]![0]! + gaussian(r), x2: centers[k]![1]! + gaussian(r), label: k });
  }
  return rows;
}

export function tempDir(prefix = 'squall-ml-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Solves A x = b (Gaussian elimination with partial pivoting). */
export function solve(A: number[][], b: number[]): number[] {
  const n = b.length;
  const M = A.map((row, i) => [...row, b[i]!]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(M[r]![c]!) > Math.abs(M[p]![c]!)) p = r;
    [M[c], M[p]] = [M[p]!, M[c]!];
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = M[r]![c]! / M[c]![c]!;
      for (let k = c; k <= n; k++) M[r]![k] = M[r]![k]! - f * M[c]![k]!;
    }
  }
  return M.map((row, i) => row[n]! / row[i]!);
}

/** max |a − b| ≤ 1e-9 · max |b|: coefficients of two fits that add the same terms in another order. */
export function expectClose(a: ArrayLike<number>, b: ArrayLike<number>): void {
  expect(a.length).toBe(b.length);
  let scale = 0;
  let diff = 0;
  for (let i = 0; i < b.length; i++) {
    scale = Math.max(scale, Math.abs(b[i]!));
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
  }
  expect(diff).toBeLessThanOrEqual(1e-9 * scale);
}
