// Hash aggregation: group keys → dense group ids through a KeyIndex, then every aggregate folds the batch in
// with one loop over the group-id array. Modes: 'single' (raw rows → results), 'partial' (raw rows → state
// columns, see partialStateFields), 'final' (state columns → results).
import type * as arrow from 'apache-arrow';
import { type ColumnData, columnData } from '../arrow/column.ts';
import type { DataType } from '../types/data-type.ts';
import { ExecutionError } from '../types/errors.ts';
import { type Field, type Schema, field, schema } from '../types/schema.ts';
import {
  type Accumulator,
  type AggregateMode,
  type AggregateSpec,
  aggregateResultType,
  makeAccumulator,
  partialStateFields,
} from './aggregate/accumulators.ts';
import { outputBatch } from './batch-utils.ts';
import { KeyIndex } from './hash/key-index.ts';
import { type ExecContext, type PhysicalOperator, checkCancelled } from './operator.ts';

export { type AggregateMode, type AggregateSpec, aggregateResultType, partialStateFields };

/** Number of partial state columns of an aggregate function (count_distinct has none). */
export function partialStateWidth(fn: AggregateSpec['fn']): number {
  switch (fn) {
    case 'avg':
    case 'first':
    case 'last':
      return 2;
    case 'stddev':
    case 'variance':
      return 3;
    case 'count_distinct':
      return 0;
    default:
      return 1;
  }
}

export class HashAggregateExec implements PhysicalOperator {
  readonly name = 'HashAggregate';
  readonly children: readonly PhysicalOperator[];
  readonly schema: Schema;
  /** Per aggregate: the type its accumulator reads (input column, or first state column in final mode). */
  private readonly accTypes: (DataType | null)[];

  constructor(
    readonly input: PhysicalOperator,
    readonly groupKeys: readonly number[],
    readonly aggregates: readonly AggregateSpec[],
    readonly mode: AggregateMode = 'single',
  ) {
    this.children = [input];
    const inFields = input.schema.fields;
    const col = (i: number, what: string): Field => {
      const f = inFields[i];
      if (!f) throw new ExecutionError(`HashAggregate: ${what} refers to column #${i}, but the input has ${inFields.length} columns`);
      return f;
    };
    const keyFields = groupKeys.map((k) => col(k, 'a group key'));
    this.accTypes = aggregates.map((a) => (a.input === null ? null : col(a.input, `aggregate '${a.name}'`).type));
    const out: Field[] = keyFields.map((f) => field(f.name, f.type, f.nullable));
    aggregates.forEach((a, k) => {
      const t = this.accTypes[k]!;
      // Fail early (UnsupportedError) on combinations the accumulators do not handle.
      makeAccumulator(a, t, mode);
      if (mode === 'partial') {
        out.push(...partialStateFields(a, t));
      } else {
        const resultType = mode === 'final' ? finalResultType(a, t) : aggregateResultType(a.fn, t);
        out.push(field(a.name, resultType, a.fn !== 'count' && a.fn !== 'count_distinct'));
      }
    });
    this.schema = schema(out);
  }

  describe(): string {
    const keys = this.groupKeys.map((k) => `#${k}`).join(', ');
    const aggs = this.aggregates.map((a) => `${a.fn}(${a.input === null ? '*' : `#${a.input}`}) as ${a.name}`).join(', ');
    return `mode=${this.mode}, keys=[${keys}], aggs=[${aggs}]`;
  }

  async *execute(ctx: ExecContext): AsyncIterable<arrow.RecordBatch> {
    const inFields = this.input.schema.fields;
    const keys = this.groupKeys.length > 0 ? new KeyIndex(this.groupKeys.map((k) => inFields[k]!.type), 'group key') : null;
    const accs: Accumulator[] = this.aggregates.map((a, k) => makeAccumulator(a, this.accTypes[k]!, this.mode));
    let zeros = new Int32Array(0);
    let groups = keys ? 0 : 1;
    accs.forEach((a) => a.resize(groups));
    const merge = this.mode === 'final';
    for await (const batch of this.input.execute(ctx)) {
      checkCancelled(ctx);
      const n = batch.numRows;
      if (n === 0) continue;
      let gids: Int32Array;
      if (keys) {
        gids = keys.insert(
          this.groupKeys.map((k) => columnData(batch, k)),
          n,
        );
        groups = keys.size;
      } else {
        if (zeros.length < n) zeros = new Int32Array(n);
        gids = zeros;
      }
      for (const a of accs) {
        a.resize(groups);
        if (merge) a.merge(gids, n, batch);
        else a.update(gids, n, batch);
      }
    }
    // A global aggregate has its one group even over empty input; grouped ones have a row per group seen.
    const size = Math.max(1, ctx.batchSize);
    for (let start = 0; start < groups; start += size) {
      checkCancelled(ctx);
      const end = Math.min(groups, start + size);
      const cols: ColumnData[] = keys ? keys.decode(start, end) : [];
      for (const a of accs) {
        if (this.mode === 'partial') cols.push(...a.state(start, end));
        else cols.push(a.result(start, end));
      }
      yield outputBatch(this.schema, cols, end - start);
    }
  }
}

/** Result type of a final aggregate from the type of its first state column. */
function finalResultType(a: AggregateSpec, stateType: DataType | null): DataType {
  switch (a.fn) {
    case 'count':
    case 'count_distinct':
      return aggregateResultType(a.fn, null);
    case 'sum':
    case 'min':
    case 'max':
    case 'first':
    case 'last':
      if (stateType === null) throw new ExecutionError(`final ${a.fn} (${a.name}) needs a state column`);
      return stateType;
    case 'avg':
    case 'stddev':
    case 'variance':
      return aggregateResultType(a.fn, stateType);
  }
}

