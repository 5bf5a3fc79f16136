// Window functions over one window specification (PARTITION BY keys, ORDER BY keys): the input is sorted by
// partition then order keys with SortExec, and each function is computed in one pass over the sorted rows —
// ranking (row_number, rank, dense_rank) and aggregates (sum, avg, min, max, count) over a frame that is the
// running rows (ROWS UNBOUNDED PRECEDING..CURRENT ROW), the running peers (RANGE ... CURRENT ROW, the SQL
// default with ORDER BY) or the whole partition. Output: the input columns in sorted order plus one column
// per function.
import type * as arrow from 'apache-arrow';
import { columnData, concatBatches, sliceBatch } from '../arrow/column.ts';
import { RANKING_FUNCTIONS as RANKING, type WindowFrame, type WindowFunctionName } from '../expr/expr.ts';
import { windowResultType } from '../expr/type-of.ts';
import { isNumeric, typeToString } from '../types/data-type.ts';
import { ExecutionError, UnsupportedError } from '../types/errors.ts';
import { type Schema, field, schema as makeSchema } from '../types/schema.ts';
import { columnFromNumbers, numericValues, outputBatch, rowValidity } from './batch-utils.ts';
import { type ExecContext, type PhysicalOperator, checkCancelled } from './operator.ts';
import { SortExec } from './sort.ts';
import { type NormalizedKey, type SortKey, compareNormalized, normalizeKey } from './sort-keys.ts';

export type { WindowFrame, WindowFunctionName };
export { windowResultType };

export interface WindowFunctionSpec {
  readonly fn: WindowFunctionName;
  /** Input column of the argument; null for ranking functions and count(*). */
  readonly input: number | null;
  readonly frame: WindowFrame;
  /** Output column name. */
  readonly name: string;
}

export class WindowExec implements PhysicalOperator {
  readonly name = 'Window';
  readonly children: readonly PhysicalOperator[];
  readonly schema: Schema;
  private readonly sorted: SortExec;

  constructor(
    readonly input: PhysicalOperator,
    /** Partition key columns of the input. */
    readonly partitionKeys: readonly number[],
    /** Order keys within a partition. */
    readonly orderKeys: readonly SortKey[],
    readonly functions: readonly WindowFunctionSpec[],
  ) {
    const fields = input.schema.fields;
    for (const k of [...partitionKeys, ...orderKeys.map((o) => o.index)]) {
      if (!fields[k]) throw new ExecutionError(`Window key refers to column #${k}, but the input has ${fields.length} columns`);
    }
    const out = [...fields];
    for (const f of functions) {
      if (RANKING.has(f.fn)) {
        if (f.input !== null) throw new ExecutionError(`${f.fn}() takes no argument`);
      } else if (f.input === null) {
        if (f.fn !== 'count') throw new ExecutionError(`${f.fn}() needs an argument column`);
      } else {
        const t = fields[f.input]?.type;
        if (!t) throw new ExecutionError(`Window function ${f.fn} refers to column #${f.input}, but the input has ${fields.length} columns`);
        const ok = f.fn === 'count' || isNumeric(t) || ((f.fn === 'min' || f.fn === 'max') && (t.kind === 'date32' || t.kind === 'timestamp'));
        if (!ok) throw new UnsupportedError(`window function ${f.fn}() over ${typeToString(t)} is not supported`);
      }
      const argType = f.input === null ? null : fields[f.input]!.type;
      out.push(field(f.name, windowResultType(f.fn, argType), !RANKING.has(f.fn) && f.fn !== 'count'));
    }
    this.schema = makeSchema(out);
    // Partitions first (any consistent order), then the window's order.
    const keys: SortKey[] = [...partitionKeys.map((index) => ({ index, ascending: true, nullsFirst: true })), ...orderKeys];
    this.sorted = new SortExec(input, keys, null);
    this.children = [input];
  }

  describe(): string {
    const fns = this.functions.map((f) => `${f.fn}(${f.input === null ? '' : `#${f.input}`}) ${f.frame}`);
    const order = this.orderKeys.map((k) => `#${k.index} ${k.ascending ? 'asc' : 'desc'}`);
    return `partition=[${this.partitionKeys.map((k) => `#${k}`).join(', ')}] order=[${order.join(', ')}] [${fns.join(', ')}]`;
  }

  async *execute(ctx: ExecContext): AsyncIterable<arrow.RecordBatch> {
    const parts: arrow.RecordBatch[] = [];
    for await (const b of this.sorted.execute(ctx)) {
      checkCancelled(ctx);
      if (b.numRows > 0) parts.push(b);
    }
    if (parts.length === 0) return;
    const batch = parts.length === 1 ? parts[0]! : concatBatches(parts[0]!.schema, parts);
    const n = batch.numRows;
    const fields = this.input.schema.fields;
    const norm = (k: SortKey): NormalizedKey => normalizeKey(columnData(batch, k.index), fields[k.index]!.type, n, k);
    const partKeys = this.partitionKeys.map((index) => norm({ index, ascending: true, nullsFirst: true }));
    const orderKeys = this.orderKeys.map(norm);
    const sameRow = (keys: readonly NormalizedKey[], a: number, b: number) => keys.every((k) => compareNormalized(k, a, k, b) === 0);
    // partStart[i]: first row of i's partition; peerEnd[i]: one past the last row ordered equal to i.
    const partStart = new Int32Array(n);
    const peerStart = new Int32Array(n);
    const peerEnd = new Int32Array(n);
    const partEnd = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const newPart = i === 0 || !sameRow(partKeys, i - 1, i);
      partStart[i] = newPart ? i : partStart[i - 1]!;
      peerStart[i] = newPart || !sameRow(orderKeys, i - 1, i) ? i : peerStart[i - 1]!;
    }
    for (let i = n - 1; i >= 0; i--) {
      const last = i === n - 1 || partStart[i + 1] !== partStart[i];
      partEnd[i] = last ? i + 1 : partEnd[i + 1]!;
      peerEnd[i] = last || peerStart[i + 1] !== peerStart[i] ? i + 1 : peerEnd[i + 1]!;
    }
    const columns = fields.map((_, i) => columnData(batch, i));
    for (const f of this.functions) columns.push(this.compute(f, batch, n, { partStart, partEnd, peerStart, peerEnd }));
    const out = outputBatch(this.schema, columns, n);
    const size = Math.max(1, ctx.batchSize);
    for (let start = 0; start < n; start += size) yield sliceBatch(out, start, Math.min(n, start + size));
  }

  private compute(
    f: WindowFunctionSpec,
    batch: arrow.RecordBatch,
    n: number,
    b: { partStart: Int32Array; partEnd: Int32Array; peerStart: Int32Array; peerEnd: Int32Array },
  ) {
    const outType = this.schema.fields[this.input.schema.fields.length + this.functions.indexOf(f)]!.type;
    const values = new Float64Array(n);
    if (RANKING.has(f.fn)) {
      let dense = 0;
      for (let i = 0; i < n; i++) {
        if (f.fn === 'row_number') values[i] = i - b.partStart[i]! + 1;
        else if (f.fn === 'rank') values[i] = b.peerStart[i]! - b.partStart[i]! + 1;
        else {
          if (i === b.partStart[i]) dense = 0;
          if (i === b.peerStart[i]) dense++;
          values[i] = dense;
        }
      }
      return columnFromNumbers(outType, values, 0, n, null);
    }
    // Running state per row over the frame [partStart, i]; then widened to the frame's last row.
    let x: ArrayLike<number> | null = null;
    let valid: Uint8Array | null = null;
    if (f.input !== null) {
      const data = columnData(batch, f.input);
      const t = this.input.schema.fields[f.input]!.type;
      // count(x) needs only validity, so x may be of any type.
      if (f.fn !== 'count') x = numericValues(data, t, n, new Float64Array(n), f.fn === 'avg');
      valid = rowValidity(data);
    }
    const isValid = (i: number) => valid === null || ((valid[i >> 3]! >> (i & 7)) & 1) === 1;
    const running = new Float64Array(n);
    const counts = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const first = i === b.partStart[i];
      let acc = first ? NaN : running[i - 1]!;
      let cnt = first ? 0 : counts[i - 1]!;
      if (isValid(i)) {
        const v = x === null ? 0 : x[i]!;
        cnt++;
        if (f.fn === 'sum' || f.fn === 'avg') acc = cnt === 1 ? v : acc + v;
        else if (f.fn === 'min') acc = cnt === 1 || v < acc ? v : acc;
        else if (f.fn === 'max') acc = cnt === 1 || v > acc ? v : acc;
      }
      running[i] = acc;
      counts[i] = cnt;
    }
    const flags = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const last = f.frame === 'partition' ? b.partEnd[i]! - 1 : f.frame === 'range_to_current' ? b.peerEnd[i]! - 1 : i;
      const cnt = counts[last]!;
      if (f.fn === 'count') values[i] = cnt;
      else if (cnt > 0) values[i] = f.fn === 'avg' ? running[last]! / cnt : running[last]!;
      flags[i] = f.fn === 'count' || cnt > 0 ? 1 : 0;
    }
    return columnFromNumbers(outType, values, 0, n, f.fn === 'count' ? null : flags);
  }
}
