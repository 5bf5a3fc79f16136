// Sort and top-k. A full sort gathers its input into one batch, computes a stable permutation over normalised
// keys (./sort-keys.ts) and emits it in batches of ctx.batchSize. With a limit k it keeps only the best k rows
// seen so far: each incoming batch is first cut to rows not worse than the current k-th on the first key, then
// merged with the kept rows by a sort of at most k + batch rows and truncated to k.
import type * as arrow from 'apache-arrow';
import { columnData, concatBatches, makeBatch, stringValues } from '../arrow/column.ts';
import { toArrowSchema } from '../types/arrow-types.ts';
import { ExecutionError } from '../types/errors.ts';
import type { Schema } from '../types/schema.ts';
import { outputBatch } from './batch-utils.ts';
import { gatherColumns } from './gather.ts';
import { type ExecContext, type PhysicalOperator, checkCancelled } from './operator.ts';
import { type NormalizedKey, type SortKey, compareCodePoints, compareNormalized, normalizeKey, sortPermutation } from './sort-keys.ts';

export type { SortKey };

export class SortExec implements PhysicalOperator {
  readonly name: string;
  readonly children: readonly PhysicalOperator[];

  constructor(
    readonly input: PhysicalOperator,
    readonly keys: readonly SortKey[],
    /** Keep only the first `limit` rows (top-k); null sorts everything. */
    readonly limit: number | null = null,
  ) {
    if (limit !== null && (!Number.isInteger(limit) || limit < 0)) throw new ExecutionError(`Sort limit must be a non-negative integer, got ${limit}`);
    for (const k of keys) {
      if (!input.schema.fields[k.index]) throw new ExecutionError(`Sort key refers to column #${k.index}, but the input has ${input.schema.fields.length} columns`);
    }
    this.name = limit === null ? 'Sort' : 'TopK';
    this.children = [input];
  }

  get schema(): Schema {
    return this.input.schema;
  }

  describe(): string {
    const keys = this.keys.map((k) => `#${k.index} ${k.ascending ? 'asc' : 'desc'} nulls ${k.nullsFirst ? 'first' : 'last'}`);
    return `[${keys.join(', ')}]${this.limit === null ? '' : `, limit=${this.limit}`}`;
  }

  private normalize(batch: arrow.RecordBatch): NormalizedKey[] {
    const fields = this.input.schema.fields;
    return this.keys.map((k) => normalizeKey(columnData(batch, k.index), fields[k.index]!.type, batch.numRows, k));
  }

  async *execute(ctx: ExecContext): AsyncIterable<arrow.RecordBatch> {
    const sorted = this.limit === null ? await this.sortAll(ctx) : await this.topK(ctx, this.limit);
    const size = Math.max(1, ctx.batchSize);
    const { batch, perm } = sorted;
    for (let start = 0; start < perm.length; start += size) {
      checkCancelled(ctx);
      const idx = perm.subarray(start, Math.min(perm.length, start + size));
      yield outputBatch(this.schema, gatherColumns(batch, idx), idx.length);
    }
  }

  private take(batch: arrow.RecordBatch, indices: Int32Array): arrow.RecordBatch {
    return makeBatch(batch.schema, gatherColumns(batch, indices), indices.length);
  }

  private async sortAll(ctx: ExecContext): Promise<{ batch: arrow.RecordBatch; perm: Int32Array }> {
    const batches: arrow.RecordBatch[] = [];
    for await (const b of this.input.execute(ctx)) {
      checkCancelled(ctx);
      if (b.numRows > 0) batches.push(b);
    }
    const batch = this.concat(batches);
    return { batch, perm: sortPermutation(this.normalize(batch), batch.numRows) };
  }

  private concat(batches: arrow.RecordBatch[]): arrow.RecordBatch {
    return concatBatches(batches[0]?.schema ?? toArrowSchema(this.schema), batches);
  }

  private async topK(ctx: ExecContext, k: number): Promise<{ batch: arrow.RecordBatch; perm: Int32Array }> {
    let kept: arrow.RecordBatch | null = null;
    // Prunes incoming rows that cannot enter the top k: compares a batch's rows with the k-th kept row on the
    // first key (ties stay, as a later key may still put them ahead; stability keeps earlier rows first).
    let bound: ((b: arrow.RecordBatch) => Int32Array | null) | null = null;
    if (k === 0) {
      return { batch: this.concat([]), perm: new Int32Array(0) };
    }
    for await (let b of this.input.execute(ctx)) {
      checkCancelled(ctx);
      if (b.numRows === 0) continue;
      if (bound !== null) {
        const pick = bound(b);
        if (pick !== null) {
          if (pick.length === 0) continue;
          b = this.take(b, pick);
        }
      }
      const merged = kept === null ? b : this.concat([kept, b]);
      const perm = sortPermutation(this.normalize(merged), merged.numRows);
      kept = this.take(merged, perm.subarray(0, Math.min(k, perm.length)));
      if (kept.numRows === k) bound = this.boundFilter(kept, k - 1);
    }
    const batch = kept ?? this.concat([]);
    const perm = new Int32Array(batch.numRows);
    for (let i = 0; i < perm.length; i++) perm[i] = i;
    return { batch, perm };
  }

  /**
   * A filter returning the rows of a batch that are not after row `at` of `kept` on the first sort key (null
   * when all rows pass). Numbers compare through their normalised values; strings directly, since string
   * ranks are only meaningful within one batch.
   */
  private boundFilter(kept: arrow.RecordBatch, at: number): (b: arrow.RecordBatch) => Int32Array | null {
    const first = this.keys[0]!;
    const type = this.input.schema.fields[first.index]!.type;
    let cmp: (b: arrow.RecordBatch) => (i: number) => number;
    if (type.kind === 'utf8') {
      const s = stringValues(columnData(kept, first.index))[at] ?? null;
      const sign = first.ascending ? 1 : -1;
      cmp = (b) => {
        const strings = stringValues(columnData(b, first.index));
        return (i) => {
          const x = strings[i] ?? null;
          if (x === null || s === null) {
            if (x === s) return 0;
            return (x === null) === first.nullsFirst ? -1 : 1;
          }
          return sign * compareCodePoints(x, s);
        };
      };
    } else {
      const k = normalizeKey(columnData(kept, first.index), type, kept.numRows, first);
      const ref: NormalizedKey = { cls: k.cls === null ? null : k.cls.subarray(at, at + 1), val: k.val.subarray(at, at + 1) };
      cmp = (b) => {
        const key = normalizeKey(columnData(b, first.index), type, b.numRows, first);
        return (i) => compareNormalized(key, i, ref, 0);
      };
    }
    return (b) => {
      const c = cmp(b);
      const pick = new Int32Array(b.numRows);
      let m = 0;
      for (let i = 0; i < b.numRows; i++) if (c(i) <= 0) pick[m++] = i;
      return m === b.numRows ? null : pick.subarray(0, m);
    };
  }
}

