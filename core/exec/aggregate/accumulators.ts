// Vectorised aggregate state: one accumulator per aggregate call, holding typed arrays indexed by group id.
// `update` folds raw input rows in (single and partial modes), `merge` folds partial states in (final mode);
// each loops once over a batch's group-id array.
import * as arrow from 'apache-arrow';
import { type ColumnData, columnData, makeColumn, makeStringColumn, stringValues } from '../../arrow/column.ts';
import type { AggregateFunctionName } from '../../expr/expr.ts';
import { aggregateResultType } from '../../expr/type-of.ts';
import { type DataType, DataTypes, typeToString } from '../../types/data-type.ts';
import { DataError, UnsupportedError } from '../../types/errors.ts';
import { type Field, field } from '../../types/schema.ts';
import { bitmapFromFlags, columnFromNumbers, numericValues, rowValidity, wordsOf } from '../batch-utils.ts';
import { KeyIndex } from '../hash/key-index.ts';
import { compareCodePoints } from '../sort-keys.ts';

export interface AggregateSpec {
  readonly fn: AggregateFunctionName;
  /** Input column; null only for count(*). In final mode, the first of the aggregate's partial state columns. */
  readonly input: number | null;
  /** Output column name; partial state columns are named `${name}#<part>`. */
  readonly name: string;
}

export type AggregateMode = 'single' | 'partial' | 'final';

export { aggregateResultType };

/**
 * The columns a 'partial' aggregate emits for `spec` over an input of `inputType` (null for count(*)), which a
 * 'final' aggregate consumes in this order:
 *  - count, count(*): `#count` int64
 *  - sum: `#sum` (the result type of sum; NULL while no value was seen)
 *  - avg: `#sum` (as sum), `#count` int64
 *  - min, max: `#value` (input type; NULL while no value was seen)
 *  - first, last: `#value` (input type), `#seen` bool
 *  - stddev, variance: `#count`, `#mean`, `#m2` float64 (Welford state, merged with Chan's formula)
 * count_distinct has no partial form (the planner rewrites it into two aggregations).
 */
export function partialStateFields(spec: AggregateSpec, inputType: DataType | null): Field[] {
  const n = spec.name;
  switch (spec.fn) {
    case 'count':
      return [field(`${n}#count`, DataTypes.int64, false)];
    case 'sum':
      return [field(`${n}#sum`, aggregateResultType('sum', inputType), true)];
    case 'avg':
      return [field(`${n}#sum`, aggregateResultType('sum', inputType), true), field(`${n}#count`, DataTypes.int64, false)];
    case 'min':
    case 'max':
      return [field(`${n}#value`, inputType ?? DataTypes.null, true)];
    case 'first':
    case 'last':
      return [field(`${n}#value`, inputType ?? DataTypes.null, true), field(`${n}#seen`, DataTypes.bool, false)];
    case 'stddev':
    case 'variance':
      return [
        field(`${n}#count`, DataTypes.float64, false),
        field(`${n}#mean`, DataTypes.float64, false),
        field(`${n}#m2`, DataTypes.float64, false),
      ];
    case 'count_distinct':
      throw new UnsupportedError(`count_distinct (${n}) has no partial aggregate form; plan it as a distinct aggregation followed by count`);
  }
}

export interface Accumulator {
  /** Make room for `groups` groups (new groups start empty). */
  resize(groups: number): void;
  /** Fold raw input rows into their groups. */
  update(gids: Int32Array, n: number, batch: arrow.RecordBatch): void;
  /** Fold partial-state rows into their groups. */
  merge(gids: Int32Array, n: number, batch: arrow.RecordBatch): void;
  /** Partial state columns of groups [start, end). */
  state(start: number, end: number): ColumnData[];
  /** Final values of groups [start, end). */
  result(start: number, end: number): ColumnData;
  /** How a fused aggregation kernel may fold raw rows into this accumulator, or null if it cannot. */
  fused?(): FusedAccess | null;
}

/**
 * An accumulator's state as a fused kernel sees it (see FusedSlot in core/expr/codegen.ts): `count` and
 * `count_valid` fold into [counts]; `sum_float` into [sums, counts]; `sum_exact` into [running sums below 2^53,
 * counts, carry(g, v) that moves a running sum into the exact state]. `arrays()` is valid until the next resize.
 */
export interface FusedAccess {
  readonly kind: 'count' | 'count_valid' | 'sum_float' | 'sum_exact';
  arrays(): readonly unknown[];
}

function capacityFor(groups: number, current: number): number {
  let cap = Math.max(16, current);
  while (cap < groups) cap *= 2;
  return cap;
}

function growF64(a: Float64Array<ArrayBuffer>, groups: number): Float64Array<ArrayBuffer> {
  if (a.length >= groups) return a;
  const out = new Float64Array(capacityFor(groups, a.length));
  out.set(a);
  return out;
}

function growU8(a: Uint8Array<ArrayBuffer>, groups: number): Uint8Array<ArrayBuffer> {
  if (a.length >= groups) return a;
  const out = new Uint8Array(capacityFor(groups, a.length));
  out.set(a);
  return out;
}

class Scratch {
  private buf = new Float64Array(0);
  get(n: number): Float64Array {
    if (this.buf.length < n) this.buf = new Float64Array(Math.max(n, 1024));
    return this.buf;
  }
}

// ---- count ----

class CountAcc implements Accumulator {
  private counts = new Float64Array(16);
  private readonly scratch = new Scratch();
  constructor(
    private readonly input: number | null,
    private readonly inputType: DataType | null,
  ) {}
  resize(groups: number): void {
    this.counts = growF64(this.counts, groups);
  }
  update(gids: Int32Array, n: number, batch: arrow.RecordBatch): void {
    const counts = this.counts;
    const valid = this.input === null ? null : rowValidity(columnData(batch, this.input));
    if (valid === null) {
      for (let i = 0; i < n; i++) counts[gids[i]!]!++;
    } else {
      for (let i = 0; i < n; i++) if ((valid[i >> 3]! >> (i & 7)) & 1) counts[gids[i]!]!++;
    }
  }
  merge(gids: Int32Array, n: number, batch: arrow.RecordBatch): void {
    const v = numericValues(columnData(batch, this.input!), DataTypes.int64, n, this.scratch.get(n));
    const counts = this.counts;
    for (let i = 0; i < n; i++) counts[gids[i]!]! += v[i]!;
  }
  state(start: number, end: number): ColumnData[] {
    return [this.result(start, end)];
  }
  result(start: number, end: number): ColumnData {
    void this.inputType;
    return columnFromNumbers(DataTypes.int64, this.counts, start, end, null);
  }
  fused(): FusedAccess {
    return { kind: this.input === null ? 'count' : 'count_valid', arrays: () => [this.counts] };
  }
}

// ---- sum and avg ----

/** Adds the non-null values of `v` into sums[g] and counts how many per group (float64 sums). */
function sumInto(
  gids: Int32Array,
  n: number,
  v: Float64Array,
  valid: Uint8Array | null,
  sums: Float64Array,
  counts: Float64Array,
): void {
  if (valid === null) {
    for (let i = 0; i < n; i++) {
      const g = gids[i]!;
      sums[g]! += v[i]!;
      counts[g]!++;
    }
  } else {
    for (let i = 0; i < n; i++) {
      if ((valid[i >> 3]! >> (i & 7)) & 1) {
        const g = gids[i]!;
        sums[g]! += v[i]!;
        counts[g]!++;
      }
    }
  }
}

const TWO_32 = 4294967296;
/** Low-word sums carry into the high word before they could lose precision. */
const CARRY_AT = 2 ** 52;

/**
 * Exact sums of integers (int32, int64, decimal unscaled values) without BigInt per row: each value is split
 * into its signed high and unsigned low 32-bit words, which are summed separately in float64 (exact), with the
 * low sum carried into the high one when it grows large. `stride` is the number of 32-bit words per value:
 * 1 for int32 (sign-extended), 2 for int64 and decimals (Decimal64).
 */
function exactSumInto(
  gids: Int32Array,
  n: number,
  words: Int32Array,
  stride: number,
  valid: Uint8Array | null,
  hi: Float64Array,
  lo: Float64Array,
  counts: Float64Array,
): void {
  if (valid === null && stride > 1) {
    // The common case (no nulls, int64 or decimal): a loop with no per-row branches but the rare carry.
    for (let i = 0, w = 0; i < n; i++, w += stride) {
      const g = gids[i]!;
      let sl = lo[g]! + (words[w]! >>> 0);
      if (sl >= CARRY_AT) {
        const carry = Math.floor(sl / TWO_32);
        hi[g]! += carry;
        sl -= carry * TWO_32;
      }
      lo[g] = sl;
      hi[g]! += words[w + 1]!;
      counts[g]!++;
    }
    return;
  }
  for (let i = 0; i < n; i++) {
    if (valid !== null && ((valid[i >> 3]! >> (i & 7)) & 1) === 0) continue;
    const g = gids[i]!;
    let l: number;
    let h: number;
    if (stride === 1) {
      const v = words[i]!;
      l = v >>> 0;
      h = v >> 31;
    } else {
      l = words[stride * i]! >>> 0;
      h = words[stride * i + 1]!;
    }
    let sl = lo[g]! + l;
    if (sl >= CARRY_AT) {
      const carry = Math.floor(sl / TWO_32);
      hi[g]! += carry;
      sl -= carry * TWO_32;
    }
    lo[g] = sl;
    hi[g]! += h;
    counts[g]!++;
  }
}

function isExactSum(t: DataType): boolean {
  return t.kind === 'int32' || t.kind === 'int64' || t.kind === 'decimal';
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/**
 * sum and avg. Integer and decimal inputs are summed exactly (see exactSumInto) into an int64 or decimal(18,s)
 * result, which raises a DataError on overflow rather than rounding; float64 inputs are summed in float64.
 */
class SumAvgAcc implements Accumulator {
  private sums = new Float64Array(16);
  /** Exact sums only: high words (the float sums use `sums` alone). */
  private his = new Float64Array(16);
  private counts = new Float64Array(16);
  /** Exact sums only: running sums of fused kernels, integers below 2^53 in magnitude, not yet in his/sums. */
  private fast = new Float64Array(16);
  private groups = 0;
  private readonly scratch = new Scratch();
  /** Type of the sum: sum's result type, also avg's `#sum` state. */
  private readonly sumType: DataType;
  private readonly exact: boolean;

  constructor(
    private readonly avg: boolean,
    private readonly input: number,
    private readonly inputType: DataType,
    mode: AggregateMode,
  ) {
    this.sumType = mode === 'final' ? inputType : aggregateResultType('sum', inputType);
    this.exact = isExactSum(this.sumType);
  }
  resize(groups: number): void {
    this.sums = growF64(this.sums, groups);
    this.counts = growF64(this.counts, groups);
    if (this.exact) {
      this.his = growF64(this.his, groups);
      this.fast = growF64(this.fast, groups);
    }
    this.groups = Math.max(this.groups, groups);
  }
  fused(): FusedAccess | null {
    if (this.inputType.kind === 'null') return null;
    if (!this.exact) return { kind: 'sum_float', arrays: () => [this.sums, this.counts] };
    return { kind: 'sum_exact', arrays: () => [this.fast, this.counts, this.carry] };
  }
  /** Adds integer `v` (|v| < 2^53) to group g's exact sum: its high word to `his`, its low word to `sums`. */
  private readonly carry = (g: number, v: number): void => {
    const h = Math.floor(v / TWO_32);
    let sl = this.sums[g]! + (v - h * TWO_32);
    this.his[g]! += h;
    if (sl >= CARRY_AT) {
      const carry = Math.floor(sl / TWO_32);
      this.his[g]! += carry;
      sl -= carry * TWO_32;
    }
    this.sums[g] = sl;
  };
  /** Moves the fused kernels' running sums into the exact state. */
  private flush(): void {
    if (!this.exact) return;
    const fast = this.fast;
    for (let g = 0; g < this.groups; g++) {
      if (fast[g] !== 0) {
        this.carry(g, fast[g]!);
        fast[g] = 0;
      }
    }
  }
  update(gids: Int32Array, n: number, batch: arrow.RecordBatch): void {
    this.add(gids, n, columnData(batch, this.input), this.inputType, this.counts);
  }
  private add(gids: Int32Array, n: number, data: ColumnData, type: DataType, counts: Float64Array): void {
    if (type.kind === 'null') return;
    if (this.exact) {
      const stride = type.kind === 'int32' ? 1 : 2;
      exactSumInto(gids, n, wordsOf(data), stride, rowValidity(data), this.his, this.sums, counts);
    } else {
      sumInto(gids, n, numericValues(data, type, n, this.scratch.get(n)) as Float64Array, rowValidity(data), this.sums, counts);
    }
  }
  merge(gids: Int32Array, n: number, batch: arrow.RecordBatch): void {
    if (!this.avg) {
      this.add(gids, n, columnData(batch, this.input), this.sumType, this.counts);
      return;
    }
    // avg: the sums skip NULL partial sums (counting into scratch), the counts add up separately.
    this.add(gids, n, columnData(batch, this.input), this.sumType, growF64(new Float64Array(0), this.counts.length));
    const c = numericValues(columnData(batch, this.input + 1), DataTypes.int64, n, this.scratch.get(n));
    const counts = this.counts;
    for (let i = 0; i < n; i++) counts[gids[i]!]! += c[i]!;
  }
  private hasValue(end: number): Uint8Array {
    if (this.has === null || this.has.length < end) {
      this.has = new Uint8Array(end);
      for (let g = 0; g < end; g++) this.has[g] = this.counts[g]! > 0 ? 1 : 0;
    }
    return this.has;
  }
  private has: Uint8Array | null = null;
  /** The exact sum of group g. */
  private exactSum(g: number): bigint {
    return BigInt(this.his[g]!) * 4294967296n + BigInt(this.sums[g]!);
  }
  private sumColumn(start: number, end: number): ColumnData {
    this.flush();
    const t = this.sumType;
    if (t.kind === 'null') return arrow.makeData({ type: new arrow.Null(), length: end - start });
    const has = this.hasValue(end);
    if (!this.exact) return columnFromNumbers(t, this.sums, start, end, has);
    const n = end - start;
    const out = new BigInt64Array(n);
    const limit = t.kind === 'decimal' ? 10n ** BigInt(t.precision) : null;
    for (let j = 0; j < n; j++) {
      if (!has[start + j]) continue;
      const v = this.exactSum(start + j);
      if (limit !== null ? v >= limit || v <= -limit : v < INT64_MIN || v > INT64_MAX) {
        throw new DataError(`sum overflows ${typeToString(t)}: the sum of a group is ${v}${t.kind === 'decimal' ? ` (unscaled)` : ''}`);
      }
      out[j] = v;
    }
    const values = t.kind === 'decimal' ? new Uint32Array(out.buffer) : out;
    return makeColumn(t, n, values, bitmapFromFlags(has, start, end));
  }
  state(start: number, end: number): ColumnData[] {
    const s = this.sumColumn(start, end);
    return this.avg ? [s, columnFromNumbers(DataTypes.int64, this.counts, start, end, null)] : [s];
  }
  result(start: number, end: number): ColumnData {
    if (!this.avg) return this.sumColumn(start, end);
    this.flush();
    const n = end - start;
    const out = new Float64Array(n);
    const scale = this.sumType.kind === 'decimal' ? 10 ** this.sumType.scale : 1;
    for (let j = 0; j < n; j++) {
      const g = start + j;
      const c = this.counts[g]!;
      if (c === 0) continue;
      const total = this.exact ? Number(this.exactSum(g)) : this.sums[g]!;
      out[j] = total / c / scale;
    }
    return makeColumn(DataTypes.float64, n, out, bitmapFromFlags(this.hasValue(end), start, end));
  }
}

// ---- min and max ----

/** min/max of types that order as numbers: ints, dates, timestamps, decimals (unscaled), floats, bools. */
class NumericMinMaxAcc implements Accumulator {
  private vals = new Float64Array(16);
  private has = new Uint8Array(16);
  private readonly scratch = new Scratch();
  constructor(
    private readonly isMax: boolean,
    private readonly input: number,
    private readonly type: DataType,
  ) {}
  resize(groups: number): void {
    this.vals = growF64(this.vals, groups);
    this.has = growU8(this.has, groups);
  }
  update(gids: Int32Array, n: number, batch: arrow.RecordBatch): void {
    const data = columnData(batch, this.input);
    const v = numericValues(data, this.type, n, this.scratch.get(n));
    const valid = rowValidity(data);
    const vals = this.vals;
    const has = this.has;
    const float = this.type.kind === 'float64';
    if (this.isMax) {
      for (let i = 0; i < n; i++) {
        if (valid !== null && ((valid[i >> 3]! >> (i & 7)) & 1) === 0) continue;
        const g = gids[i]!;
        const x = v[i]!;
        if (has[g] === 0) {
          has[g] = 1;
          vals[g] = x;
        } else if (x > vals[g]! || (float && x !== x)) vals[g] = x; // NaN is the greatest float
      }
    } else {
      for (let i = 0; i < n; i++) {
        if (valid !== null && ((valid[i >> 3]! >> (i & 7)) & 1) === 0) continue;
        const g = gids[i]!;
        const x = v[i]!;
        if (has[g] === 0) {
          has[g] = 1;
          vals[g] = x;
        } else if (x < vals[g]! || (float && vals[g] !== vals[g])) vals[g] = x;
      }
    }
  }
  merge(gids: Int32Array, n: number, batch: arrow.RecordBatch): void {
    this.update(gids, n, batch);
  }
  state(start: number, end: number): ColumnData[] {
    return [this.result(start, end)];
  }
  result(start: number, end: number): ColumnData {
    return columnFromNumbers(this.type, this.vals, start, end, this.has);
  }
}

class StringMinMaxAcc implements Accumulator {
  private vals: (string | null)[] = [];
  constructor(
    private readonly isMax: boolean,
    private readonly input: number,
  ) {}
  resize(groups: number): void {
    while (this.vals.length < groups) this.vals.push(null);
  }
  update(gids: Int32Array, n: number, batch: arrow.RecordBatch): void {
    const strings = stringValues(columnData(batch, this.input));
    const vals = this.vals;
    const sign = this.isMax ? -1 : 1;
    for (let i = 0; i < n; i++) {
      const s = strings[i];
      if (s == null) continue;
      const g = gids[i]!;
      const cur = vals[g];
      if (cur == null || (cur !== s && sign * compareCodePoints(s, cur) < 0)) vals[g] = s;
    }
  }
  merge(gids: Int32Array, n: number, batch: arrow.RecordBatch): void {
    this.update(gids, n, batch);
  }
  state(start: number, end: number): ColumnData[] {
    return [this.result(start, end)];
  }
  result(start: number, end: number): ColumnData {
    return makeStringColumn(this.vals.slice(start, end));
  }
}

/** min/max over a Null-typed column: always NULL. */
class NullAcc implements Accumulator {
  resize(): void {}
  update(): void {}
  merge(): void {}
  state(start: number, end: number): ColumnData[] {
    return [this.result(start, end)];
  }
  result(start: number, end: number): ColumnData {
    return arrow.makeData({ type: new arrow.Null(), length: end - start });
  }
}

// ---- first and last ----

/** Per-group copies of values of any type, with their validity. */
interface ValueStore {
  resize(groups: number): void;
  /** Reads rows from `data` in the following `set` calls. */
  bind(data: ColumnData): void;
  set(g: number, i: number): void;
  toData(start: number, end: number): ColumnData;
}

/** Fixed-width values copied as 32-bit words: int32, date32, float64, int64, timestamp, decimal, vector. */
class WordStore implements ValueStore {
  private words = new Int32Array(0);
  private valid = new Uint8Array(16);
  private src: Int32Array = new Int32Array(0);
  private srcValid: Uint8Array | null = null;
  private readonly stride: number;
  constructor(private readonly type: DataType) {
    switch (type.kind) {
      case 'int32':
      case 'date32':
        this.stride = 1;
        break;
      case 'vector':
        this.stride = type.size;
        break;
      default:
        this.stride = 2;
    }
    this.words = new Int32Array(16 * this.stride);
  }
  resize(groups: number): void {
    this.valid = growU8(this.valid, groups);
    if (this.words.length < groups * this.stride) {
      const out = new Int32Array(capacityFor(groups, this.words.length / this.stride) * this.stride);
      out.set(this.words);
      this.words = out;
    }
  }
  bind(data: ColumnData): void {
    this.src = this.type.kind === 'vector' ? wordsOf(data.children[0]!) : wordsOf(data);
    this.srcValid = rowValidity(data);
  }
  set(g: number, i: number): void {
    const v = this.srcValid;
    if (v !== null && ((v[i >> 3]! >> (i & 7)) & 1) === 0) {
      this.valid[g] = 0;
      return;
    }
    this.valid[g] = 1;
    const s = this.stride;
    for (let k = 0; k < s; k++) this.words[g * s + k] = this.src[i * s + k]!;
  }
  toData(start: number, end: number): ColumnData {
    const n = end - start;
    const buf = this.words.slice(start * this.stride, end * this.stride).buffer;
    let values: Int32Array | Float64Array | Uint32Array | Float32Array | BigInt64Array;
    switch (this.type.kind) {
      case 'int32':
      case 'date32':
        values = new Int32Array(buf);
        break;
      case 'float64':
        values = new Float64Array(buf);
        break;
      case 'decimal':
        values = new Uint32Array(buf);
        break;
      case 'vector':
        values = new Float32Array(buf);
        break;
      default:
        values = new BigInt64Array(buf);
    }
    return makeColumn(this.type, n, values, bitmapFromFlags(this.valid, start, end));
  }
}

class BoolStore implements ValueStore {
  private vals = new Uint8Array(16);
  private valid = new Uint8Array(16);
  private bits: Uint8Array = new Uint8Array(0);
  private srcValid: Uint8Array | null = null;
  resize(groups: number): void {
    this.vals = growU8(this.vals, groups);
    this.valid = growU8(this.valid, groups);
  }
  bind(data: ColumnData): void {
    this.bits = data.values as Uint8Array;
    this.srcValid = rowValidity(data);
  }
  set(g: number, i: number): void {
    const v = this.srcValid;
    this.valid[g] = v === null || (v[i >> 3]! >> (i & 7)) & 1 ? 1 : 0;
    this.vals[g] = (this.bits[i >> 3]! >> (i & 7)) & 1;
  }
  toData(start: number, end: number): ColumnData {
    return columnFromNumbers(DataTypes.bool, this.vals, start, end, this.valid);
  }
}

class StringStore implements ValueStore {
  private vals: (string | null)[] = [];
  private src: (string | null)[] = [];
  resize(groups: number): void {
    while (this.vals.length < groups) this.vals.push(null);
  }
  bind(data: ColumnData): void {
    this.src = stringValues(data);
  }
  set(g: number, i: number): void {
    this.vals[g] = this.src[i]!;
  }
  toData(start: number, end: number): ColumnData {
    return makeStringColumn(this.vals.slice(start, end));
  }
}

class NullStore implements ValueStore {
  resize(): void {}
  bind(): void {}
  set(): void {}
  toData(start: number, end: number): ColumnData {
    return arrow.makeData({ type: new arrow.Null(), length: end - start });
  }
}

function valueStore(type: DataType): ValueStore {
  switch (type.kind) {
    case 'bool':
      return new BoolStore();
    case 'utf8':
      return new StringStore();
    case 'null':
      return new NullStore();
    default:
      return new WordStore(type);
  }
}

/** first/last in input order, NULLs included; `seen` tells an empty group from one whose value is NULL. */
class FirstLastAcc implements Accumulator {
  private seen = new Uint8Array(16);
  private readonly store: ValueStore;
  constructor(
    private readonly isLast: boolean,
    private readonly input: number,
    type: DataType,
  ) {
    this.store = valueStore(type);
  }
  resize(groups: number): void {
    this.seen = growU8(this.seen, groups);
    this.store.resize(groups);
  }
  update(gids: Int32Array, n: number, batch: arrow.RecordBatch): void {
    this.store.bind(columnData(batch, this.input));
    this.fold(gids, n, null);
  }
  merge(gids: Int32Array, n: number, batch: arrow.RecordBatch): void {
    this.store.bind(columnData(batch, this.input));
    this.fold(gids, n, columnData(batch, this.input + 1).values as Uint8Array);
  }
  private fold(gids: Int32Array, n: number, seenBits: Uint8Array | null): void {
    const seen = this.seen;
    const store = this.store;
    for (let i = 0; i < n; i++) {
      if (seenBits !== null && ((seenBits[i >> 3]! >> (i & 7)) & 1) === 0) continue;
      const g = gids[i]!;
      if (this.isLast || seen[g] === 0) {
        seen[g] = 1;
        store.set(g, i);
      }
    }
  }
  state(start: number, end: number): ColumnData[] {
    return [this.store.toData(start, end), columnFromNumbers(DataTypes.bool, this.seen, start, end, null)];
  }
  result(start: number, end: number): ColumnData {
    return this.store.toData(start, end);
  }
}

// ---- variance and stddev ----

class VarianceAcc implements Accumulator {
  private count = new Float64Array(16);
  private mean = new Float64Array(16);
  private m2 = new Float64Array(16);
  private readonly scratch = new Scratch();
  private readonly scratch2 = new Scratch();
  private readonly scratch3 = new Scratch();
  constructor(
    private readonly stddev: boolean,
    private readonly input: number,
    private readonly type: DataType,
  ) {}
  resize(groups: number): void {
    this.count = growF64(this.count, groups);
    this.mean = growF64(this.mean, groups);
    this.m2 = growF64(this.m2, groups);
  }
  update(gids: Int32Array, n: number, batch: arrow.RecordBatch): void {
    if (this.type.kind === 'null') return;
    const data = columnData(batch, this.input);
    const v = numericValues(data, this.type, n, this.scratch.get(n), true);
    const valid = rowValidity(data);
    const count = this.count;
    const mean = this.mean;
    const m2 = this.m2;
    for (let i = 0; i < n; i++) {
      if (valid !== null && ((valid[i >> 3]! >> (i & 7)) & 1) === 0) continue;
      const g = gids[i]!;
      const x = v[i]!;
      const c = ++count[g]!;
      const delta = x - mean[g]!;
      const m = mean[g]! + delta / c;
      mean[g] = m;
      m2[g]! += delta * (x - m);
    }
  }
  merge(gids: Int32Array, n: number, batch: arrow.RecordBatch): void {
    const cb = numericValues(columnData(batch, this.input), DataTypes.float64, n, this.scratch.get(n));
    const mb = numericValues(columnData(batch, this.input + 1), DataTypes.float64, n, this.scratch2.get(n));
    const qb = numericValues(columnData(batch, this.input + 2), DataTypes.float64, n, this.scratch3.get(n));
    const count = this.count;
    const mean = this.mean;
    const m2 = this.m2;
    for (let i = 0; i < n; i++) {
      const nb = cb[i]!;
      if (nb === 0) continue;
      const g = gids[i]!;
      const na = count[g]!;
      const total = na + nb;
      const delta = mb[i]! - mean[g]!;
      mean[g] = mean[g]! + (delta * nb) / total;
      m2[g] = m2[g]! + qb[i]! + (delta * delta * na * nb) / total;
      count[g] = total;
    }
  }
  state(start: number, end: number): ColumnData[] {
    return [
      columnFromNumbers(DataTypes.float64, this.count, start, end, null),
      columnFromNumbers(DataTypes.float64, this.mean, start, end, null),
      columnFromNumbers(DataTypes.float64, this.m2, start, end, null),
    ];
  }
  result(start: number, end: number): ColumnData {
    const n = end - start;
    const out = new Float64Array(n);
    const has = new Uint8Array(n);
    for (let j = 0; j < n; j++) {
      const c = this.count[start + j]!;
      if (c < 2) continue;
      has[j] = 1;
      const v = Math.max(0, this.m2[start + j]! / (c - 1));
      out[j] = this.stddev ? Math.sqrt(v) : v;
    }
    return makeColumn(DataTypes.float64, n, out, bitmapFromFlags(has, 0, n));
  }
}

// ---- count(DISTINCT x) ----

/** Distinct (group, value) pairs in a key index of their own; a group's count rises when a pair is new. */
class CountDistinctAcc implements Accumulator {
  private counts = new Float64Array(16);
  private readonly pairs: KeyIndex;
  constructor(
    private readonly input: number,
    type: DataType,
  ) {
    this.pairs = new KeyIndex([DataTypes.int32, type], 'count_distinct argument');
  }
  resize(groups: number): void {
    this.counts = growF64(this.counts, groups);
  }
  update(gids: Int32Array, n: number, batch: arrow.RecordBatch): void {
    const data = columnData(batch, this.input);
    const valid = rowValidity(data);
    const before = this.pairs.size;
    const groupColumn = makeColumn(DataTypes.int32, n, gids.subarray(0, n), null);
    const ids = this.pairs.insert([groupColumn, data], n);
    const fresh = new Uint8Array(this.pairs.size - before);
    const counts = this.counts;
    for (let i = 0; i < n; i++) {
      if (valid !== null && ((valid[i >> 3]! >> (i & 7)) & 1) === 0) continue;
      const p = ids[i]! - before;
      if (p >= 0 && fresh[p] === 0) {
        fresh[p] = 1;
        counts[gids[i]!]!++;
      }
    }
  }
  merge(): void {
    throw new UnsupportedError('count_distinct has no partial aggregate form');
  }
  state(): ColumnData[] {
    throw new UnsupportedError('count_distinct has no partial aggregate form');
  }
  result(start: number, end: number): ColumnData {
    return columnFromNumbers(DataTypes.int64, this.counts, start, end, null);
  }
}

/**
 * The accumulator for `spec`. `inputType` is the type of the input column in single/partial mode, and the type
 * of the first partial state column in final mode (null for count(*)).
 */
export function makeAccumulator(spec: AggregateSpec, inputType: DataType | null, mode: AggregateMode): Accumulator {
  const { fn, input } = spec;
  if (fn === 'count') return new CountAcc(input, inputType);
  if (input === null || inputType === null) throw new UnsupportedError(`${fn}() needs an input column (${spec.name})`);
  const unsupported = () =>
    new UnsupportedError(`${fn}() over ${typeToString(inputType)} values is not supported (${spec.name})`);
  switch (fn) {
    case 'count_distinct':
      if (mode !== 'single') {
        throw new UnsupportedError(
          `count_distinct (${spec.name}) runs only in single-mode aggregation; plan it as a distinct aggregation followed by count`,
        );
      }
      return new CountDistinctAcc(input, inputType);
    case 'sum':
    case 'avg':
      if (inputType.kind !== 'null' && !['int32', 'int64', 'float64', 'decimal'].includes(inputType.kind)) throw unsupported();
      return new SumAvgAcc(fn === 'avg', input, inputType, mode);
    case 'min':
    case 'max':
      if (inputType.kind === 'null') return new NullAcc();
      if (inputType.kind === 'utf8') return new StringMinMaxAcc(fn === 'max', input);
      if (inputType.kind === 'vector') throw unsupported();
      return new NumericMinMaxAcc(fn === 'max', input, inputType);
    case 'first':
    case 'last':
      return new FirstLastAcc(fn === 'last', input, inputType);
    case 'stddev':
    case 'variance':
      if (mode !== 'final' && inputType.kind !== 'null' && !['int32', 'int64', 'float64', 'decimal'].includes(inputType.kind)) {
        throw unsupported();
      }
      return new VarianceAcc(fn === 'stddev', input, inputType);
  }
}
