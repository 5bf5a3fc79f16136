// The exact fallback for integer and decimal arithmetic. Compiled kernels compute int64 and decimal values as
// JavaScript numbers, exact within ±2^53; when a batch's values go beyond that (a decimal(18,6) product of two
// large amounts, say), the kernel raises BeyondDoubleRange and the batch is evaluated again here, row by row in
// BigInt, exactly up to the type's own limit. Only arithmetic over integers and decimals is covered; any other
// expression that overflows keeps the kernel's error.
import type * as arrow from 'apache-arrow';
import { columnData, isValidAt, makeColumn, validity } from '../arrow/column.ts';
import { type DataType, typeToString } from '../types/data-type.ts';
import { DataError } from '../types/errors.ts';
import { type Schema, resolveField } from '../types/schema.ts';
import { type Expr, exprToString } from './expr.ts';
import { typeOf } from './type-of.ts';

/** Raised by kernels when an int64/decimal value leaves the range a double holds exactly. */
export class BeyondDoubleRange extends DataError {}

/** An exact value: an integer `v` meaning v / 10^scale; null for SQL NULL. */
type Exact = { readonly v: bigint; readonly scale: number } | null;
/** A row's value: exact, or a double (results of `/`). */
type Value = Exact | number;

const INT64_MAX = 2n ** 63n - 1n;

function rescale(v: bigint, from: number, to: number): bigint {
  if (to >= from) return v * 10n ** BigInt(to - from);
  const d = 10n ** BigInt(from - to);
  const q = v / d;
  const r = v % d;
  // Half away from zero, as SQL decimal casts round.
  if ((r < 0n ? -r : r) * 2n >= d) return v < 0n ? q - 1n : q + 1n;
  return q;
}

function scaleOf(t: DataType): number | null {
  switch (t.kind) {
    case 'int32':
    case 'int64':
      return 0;
    case 'decimal':
      return t.scale;
    default:
      return null;
  }
}

/** Whether every node of `e` is something this evaluator computes exactly. */
export function exactlyEvaluable(e: Expr, input: Schema): boolean {
  const t = typeOf(e, input);
  switch (e.kind) {
    case 'column':
    case 'literal':
      return scaleOf(t) !== null || (e.kind === 'literal' && e.value === null);
    case 'alias':
    case 'negate':
      return exactlyEvaluable(e.input, input);
    case 'cast':
      return scaleOf(t) !== null && exactlyEvaluable(e.input, input);
    case 'binary':
      if (!['+', '-', '*', '%', '/'].includes(e.op)) return false;
      if (e.op === '/' ? t.kind !== 'float64' : scaleOf(t) === null) return false;
      return exactlyEvaluable(e.left, input) && exactlyEvaluable(e.right, input);
    case 'call':
      return e.fn === 'abs' && exactlyEvaluable(e.args[0]!, input);
    default:
      return false;
  }
}

function toDouble(x: Value): number | null {
  if (x === null) return null;
  return typeof x === 'number' ? x : Number(x.v) / 10 ** x.scale;
}

class ExactEvaluator {
  constructor(
    private readonly input: Schema,
    private readonly batch: arrow.RecordBatch,
  ) {}

  column(e: Extract<Expr, { kind: 'column' }>): (row: number) => Value {
    const idx = resolveField(this.input, e.name, e.qualifier, e.index);
    const t = this.input.fields[idx]!.type;
    const data = columnData(this.batch, idx);
    const valid = validity(data);
    const src = data.values as ArrayBufferView;
    const w = new Int32Array(src.buffer, src.byteOffset, src.byteLength >> 2);
    const scale = scaleOf(t)!;
    const stride = t.kind === 'int32' ? 1 : 2;
    return (i) => {
      if (!isValidAt(valid, i)) return null;
      if (stride === 1) return { v: BigInt(w[i]!), scale };
      return { v: (BigInt(w[stride * i + 1]!) << 32n) + BigInt(w[stride * i]! >>> 0), scale };
    };
  }

  compile(e: Expr): (row: number) => Value {
    const t = typeOf(e, this.input);
    switch (e.kind) {
      case 'column':
        return this.column(e);
      case 'literal': {
        if (e.value === null) return () => null;
        const scale = scaleOf(t)!;
        // Decimal literals hold their unscaled integer; integers are exact numbers.
        const v = BigInt(e.value as number);
        return () => ({ v, scale });
      }
      case 'alias':
        return this.compile(e.input);
      case 'negate': {
        const f = this.compile(e.input);
        return (i) => {
          const x = f(i);
          return x === null ? null : typeof x === 'number' ? -x : { v: -x.v, scale: x.scale };
        };
      }
      case 'call': {
        const f = this.compile(e.args[0]!);
        return (i) => {
          const x = f(i);
          return x === null || typeof x === 'number' ? x : { v: x.v < 0n ? -x.v : x.v, scale: x.scale };
        };
      }
      case 'cast': {
        const f = this.compile(e.input);
        const to = scaleOf(t)!;
        return (i) => {
          const x = f(i);
          if (x === null) return null;
          if (typeof x === 'number') return { v: BigInt(Math.round(x * 10 ** to)), scale: to };
          return { v: rescale(x.v, x.scale, to), scale: to };
        };
      }
      case 'binary': {
        const l = this.compile(e.left);
        const r = this.compile(e.right);
        if (e.op === '/') {
          return (i) => {
            const a = toDouble(l(i));
            const b = toDouble(r(i));
            return a === null || b === null || b === 0 ? null : a / b;
          };
        }
        const target = scaleOf(t)!;
        const op = e.op;
        return (i) => {
          const a = l(i);
          const b = r(i);
          if (a === null || b === null || typeof a === 'number' || typeof b === 'number') return null;
          switch (op) {
            case '*':
              return { v: rescale(a.v * b.v, a.scale + b.scale, target), scale: target };
            case '+':
              return { v: rescale(a.v, a.scale, target) + rescale(b.v, b.scale, target), scale: target };
            case '-':
              return { v: rescale(a.v, a.scale, target) - rescale(b.v, b.scale, target), scale: target };
            default: {
              const s = Math.max(a.scale, b.scale);
              const d = rescale(b.v, b.scale, s);
              if (d === 0n) return null;
              return { v: rescale(rescale(a.v, a.scale, s) % d, s, target), scale: target };
            }
          }
        };
      }
      default:
        throw new Error(`internal: ${e.kind} is not exactly evaluable`);
    }
  }
}

/** Evaluates `e` (which `exactlyEvaluable` accepted) over `batch`, exactly, into a column of `type`. */
export function evaluateExact(e: Expr, input: Schema, batch: arrow.RecordBatch, type: DataType): arrow.Data {
  const f = new ExactEvaluator(input, batch).compile(e);
  const n = batch.numRows;
  const valid = new Uint8Array(((n + 63) >> 6) << 3);
  if (type.kind === 'float64') {
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const x = toDouble(f(i));
      if (x !== null) {
        out[i] = x;
        valid[i >> 3]! |= 1 << (i & 7);
      }
    }
    return makeColumn(type, n, out, valid);
  }
  const limit = type.kind === 'decimal' ? 10n ** BigInt(type.precision) : type.kind === 'int32' ? 2n ** 31n : INT64_MAX + 1n;
  const out = new BigInt64Array(n);
  const int32 = type.kind === 'int32' ? new Int32Array(n) : null;
  for (let i = 0; i < n; i++) {
    const x = f(i);
    if (x === null || typeof x === 'number') continue;
    if (x.v >= limit || x.v < -limit) {
      throw new DataError(`${typeToString(type)} overflow in ${exprToString(e)}: ${x.v} does not fit`);
    }
    valid[i >> 3]! |= 1 << (i & 7);
    if (int32) int32[i] = Number(x.v);
    else out[i] = x.v;
  }
  if (int32) return makeColumn(type, n, int32, valid);
  return makeColumn(type, n, type.kind === 'decimal' ? new Uint32Array(out.buffer) : out, valid);
}
