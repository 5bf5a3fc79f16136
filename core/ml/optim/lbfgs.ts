// L-BFGS (limited-memory BFGS, Nocedal & Wright Algorithm 7.4/7.5) with a backtracking line search that keeps the
// Armijo condition, stepping back by safeguarded quadratic interpolation. Written here (no optimizer in the
// dependency list fits: the numeric npm packages are unmaintained or pull in large frameworks). The objective
// is async because each evaluation is a distributed step: per-partition tasks computing loss and gradient,
// combined by the caller. A run can stop after any iteration and continue from its state (`onIteration`,
// `start`), taking the same steps: a coordinator near its time limit hands the optimizer to its next run.

export interface Evaluation {
  readonly value: number;
  readonly gradient: Float64Array;
}

export type DiffFunction = (x: Float64Array) => Promise<Evaluation>;

/** Where a run stands after an iteration: enough to continue it exactly (the same iterates follow). */
export interface LbfgsState {
  readonly x: Float64Array;
  readonly value: number;
  readonly gradient: Float64Array;
  /** Correction pairs, oldest first, and their 1/(sᵀy). */
  readonly s: readonly Float64Array[];
  readonly y: readonly Float64Array[];
  readonly rho: readonly number[];
  readonly history: readonly number[];
  /** Iterations done. */
  readonly iterations: number;
}

export interface LbfgsOptions {
  readonly maxIter: number;
  /** Convergence: stop when the relative decrease of the objective in an iteration is below tol, or the gradient's norm is below tol·max(1, |f|). */
  readonly tol: number;
  /** Correction pairs kept (Spark's default 10). */
  readonly memory?: number;
  /** Continue a run from its state after an iteration (x0 is then ignored). */
  readonly start?: LbfgsState | null;
  /** Called after every iteration that does not end the run (a driver keeps it to continue elsewhere). */
  readonly onIteration?: (state: LbfgsState) => void;
}

export interface LbfgsResult {
  readonly x: Float64Array;
  readonly value: number;
  readonly gradient: Float64Array;
  readonly iterations: number;
  readonly converged: boolean;
  readonly reason: 'gradient' | 'objective' | 'maxIter' | 'lineSearch';
  /** The objective at the start and after each iteration. */
  readonly history: readonly number[];
}

const dot = (a: Float64Array, b: Float64Array): number => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
};
const norm = (a: Float64Array): number => Math.sqrt(dot(a, a));

export async function minimizeLbfgs(f: DiffFunction, x0: Float64Array, options: LbfgsOptions): Promise<LbfgsResult> {
  const m = options.memory ?? 10;
  const n = x0.length;
  const start = options.start ?? null;
  let x: Float64Array;
  let fx: number;
  let g: Float64Array;
  let history: number[];
  const S: Float64Array[] = [];
  const Y: Float64Array[] = [];
  const RHO: number[] = [];
  const gradientSmall = (v: number, grad: Float64Array) => norm(grad) <= Math.max(options.tol * Math.max(1, Math.abs(v)), 1e-14);
  if (start) {
    if (start.x.length !== n || start.gradient.length !== n) throw new RangeError(`the state to continue from has ${start.x.length} values; expected ${n}`);
    x = Float64Array.from(start.x);
    fx = start.value;
    g = Float64Array.from(start.gradient);
    history = [...start.history];
    S.push(...start.s.map((v) => Float64Array.from(v)));
    Y.push(...start.y.map((v) => Float64Array.from(v)));
    RHO.push(...start.rho);
  } else {
    x = Float64Array.from(x0);
    const first = await f(x);
    fx = first.value;
    g = first.gradient;
    history = [fx];
    if (gradientSmall(fx, g)) return { x, value: fx, gradient: g, iterations: 0, converged: true, reason: 'gradient', history };
  }
  for (let iter = (start?.iterations ?? 0) + 1; iter <= options.maxIter; iter++) {
    // Two-loop recursion: d = −H·g.
    const q = Float64Array.from(g);
    const alpha = new Array<number>(S.length);
    for (let i = S.length - 1; i >= 0; i--) {
      alpha[i] = RHO[i]! * dot(S[i]!, q);
      const y = Y[i]!;
      for (let j = 0; j < n; j++) q[j] = q[j]! - alpha[i]! * y[j]!;
    }
    const gamma = S.length ? dot(S[S.length - 1]!, Y[Y.length - 1]!) / dot(Y[Y.length - 1]!, Y[Y.length - 1]!) : 1 / Math.max(norm(g), 1e-12);
    for (let j = 0; j < n; j++) q[j] = q[j]! * gamma;
    for (let i = 0; i < S.length; i++) {
      const beta = RHO[i]! * dot(Y[i]!, q);
      const s = S[i]!;
      for (let j = 0; j < n; j++) q[j] = q[j]! + s[j]! * (alpha[i]! - beta);
    }
    let d = q.map((v) => -v);
    let slope = dot(g, d);
    if (!(slope < 0)) {
      // Not a descent direction (numerical trouble): restart from steepest descent.
      S.length = Y.length = RHO.length = 0;
      d = g.map((v) => -v / Math.max(norm(g), 1e-12));
      slope = dot(g, d);
    }
    // Backtracking line search (Armijo, c1 = 1e-4).
    let t = 1;
    let accepted: { x: Float64Array; e: Evaluation } | null = null;
    for (let trial = 0; trial < 40; trial++) {
      const xt = new Float64Array(n);
      for (let j = 0; j < n; j++) xt[j] = x[j]! + t * d[j]!;
      const e = await f(xt);
      if (Number.isFinite(e.value) && e.value <= fx + 1e-4 * t * slope) {
        accepted = { x: xt, e };
        break;
      }
      // Minimiser of the quadratic through f(0), f'(0) and f(t), kept within [0.1t, 0.5t].
      const quad = Number.isFinite(e.value) ? (-slope * t * t) / (2 * (e.value - fx - slope * t)) : 0.1 * t;
      t = Math.min(0.5 * t, Math.max(0.1 * t, quad));
    }
    if (!accepted) {
      return { x, value: fx, gradient: g, iterations: iter - 1, converged: gradientSmall(fx, g), reason: 'lineSearch', history };
    }
    const s = new Float64Array(n);
    const y = new Float64Array(n);
    for (let j = 0; j < n; j++) {
      s[j] = accepted.x[j]! - x[j]!;
      y[j] = accepted.e.gradient[j]! - g[j]!;
    }
    const sy = dot(s, y);
    if (sy > 1e-12 * norm(s) * norm(y)) {
      S.push(s);
      Y.push(y);
      RHO.push(1 / sy);
      if (S.length > m) {
        S.shift();
        Y.shift();
        RHO.shift();
      }
    }
    const previous = fx;
    x = accepted.x;
    fx = accepted.e.value;
    g = accepted.e.gradient;
    history.push(fx);
    if (gradientSmall(fx, g)) return { x, value: fx, gradient: g, iterations: iter, converged: true, reason: 'gradient', history };
    if (Math.abs(previous - fx) <= options.tol * Math.max(Math.abs(fx), Math.abs(previous), 1e-300)) {
      return { x, value: fx, gradient: g, iterations: iter, converged: true, reason: 'objective', history };
    }
    options.onIteration?.({ x, value: fx, gradient: g, s: [...S], y: [...Y], rho: [...RHO], history: [...history], iterations: iter });
  }
  return { x, value: fx, gradient: g, iterations: options.maxIter, converged: false, reason: 'maxIter', history };
}
