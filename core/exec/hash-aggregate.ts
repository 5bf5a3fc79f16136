// Hash aggregation: group keys → dense group ids through a KeyIndex, then every aggregate folds the batch in
// with one loop over the group-id array. Modes: 'single' (raw rows → results), 'partial' (raw rows → state
// columns, see partialStateFields), 'final' (state columns → results).
//
// Fused path: when the input is [Project over] [Filter over] a child, the keys are plain columns, and every
// aggregate is a count, sum or avg, the aggregate reads the child's batches itself: the filter gives a selection
// vector (nothing is copied), group ids come from the key columns through it, and one generated kernel computes
// every aggregate input expression and folds it into the accumulators (see compileFusedAggregate). Rows whose
// values leave the range doubles hold exactly go through the filter-project-update path instead.
import type * as arrow from 'apache-arrow';
import { type ColumnData, columnData, takeBatch } from '../arrow/column.ts';
import { type CompiledFusedAggregate, type CompiledPredicate, type FusedSlot, compileFusedAggregate, compilePredicate, compileProjection } from '../expr/compile.ts';
import { type Expr, boundColumn, containsUdf } from '../expr/expr.ts';
import type { DataType } from '../types/data-type.ts';
import { ExecutionError } from '../types/errors.ts';
import { type Field, type Schema, field, resolveField, schema } from '../types/schema.ts';
import {
  type Accumulator,
  type AggregateMode,
  type AggregateSpec,
  aggregateResultType,
  makeAccumulator,
  partialStateFields,
} from './aggregate/accumulators.ts';
import { outputBatch } from './batch-utils.ts';
import { FilterExec } from './filter.ts';
import { type GroupRuns, GroupIds, RunSorter } from './hash/group-ids.ts';
import { KeyIndex } from './hash/key-index.ts';
import { ProjectExec } from './project.ts';
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

/** Selected rows per step of the fused path when grouping (its sort arrays and gathered rows stay in cache). */
const CHUNK = 16384;

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
    this.fusion = mode === 'final' ? null : planFusion(input, groupKeys, aggregates, this.accTypes, mode);
  }

  /** The fused path's plan (see the file comment), or null. */
  private readonly fusion: Fusion | null;

  describe(): string {
    const keys = this.groupKeys.map((k) => `#${k}`).join(', ');
    const aggs = this.aggregates.map((a) => `${a.fn}(${a.input === null ? '*' : `#${a.input}`}) as ${a.name}`).join(', ');
    return `mode=${this.mode}, keys=[${keys}], aggs=[${aggs}]`;
  }

  async *execute(ctx: ExecContext): AsyncIterable<arrow.RecordBatch> {
    const inFields = this.input.schema.fields;
    const keys = this.groupKeys.length > 0 ? new KeyIndex(this.groupKeys.map((k) => inFields[k]!.type), 'group key') : null;
    const groupIds = keys ? new GroupIds(keys) : null;
    const accs: Accumulator[] = this.aggregates.map((a, k) => makeAccumulator(a, this.accTypes[k]!, this.mode));
    let zeros = new Int32Array(0);
    let groups = keys ? 0 : 1;
    accs.forEach((a) => a.resize(groups));
    const merge = this.mode === 'final';
    const fusion = this.fusion;
    if (fusion) {
      const access = accs.map((a) => a.fused!()!);
      const sorter = new RunSorter();
      let selBuf = new Int32Array(0);
      let iota = new Int32Array(0);
      /** Folds rows sel[0..m) (0..m when null) of `batch` into the accumulators. */
      const fold = (batch: arrow.RecordBatch, sel: Int32Array | null, m: number, keyCols?: ColumnData[]): void => {
        let gids: Int32Array | null = null;
        let runs: GroupRuns | null = null;
        if (groupIds) {
          runs = groupIds.runs(keyCols!, sel, m);
          if (!runs) {
            gids = groupIds.assign(keyCols!, sel, m);
            // Few groups for the rows at hand: fold runs of one group with the state in locals.
            if (keys!.size * 8 <= m) runs = sorter.sort(gids, sel, m, keys!.size);
          }
          if (groups !== keys!.size) {
            groups = keys!.size;
            for (const a of accs) a.resize(groups);
            arrays = access.map((f) => f.arrays());
          }
        } else {
          runs = sorter.single(sel, m);
        }
        const done = runs ? fusion.kernel.run(batch, runs.rows, m, null, arrays, runs) : fusion.kernel.run(batch, sel, m, gids!, arrays);
        if (done < m) {
          // Values beyond ±2^53 from position `done` on: project those rows (exactly, in BigInt where needed).
          let rows: Int32Array;
          let rest: Int32Array;
          if (runs) {
            rows = runs.rows ? runs.rows.slice(done, m) : Int32Array.from({ length: m - done }, (_, j) => done + j);
            rest = new Int32Array(m - done);
            for (let r = 0, start = 0; r < runs.count; start = runs.ends[r]!, r++) {
              for (let p = Math.max(start, done); p < runs.ends[r]!; p++) rest[p - done] = runs.groups[r]!;
            }
          } else {
            rows = sel ? sel.slice(done, m) : Int32Array.from({ length: m - done }, (_, j) => done + j);
            rest = gids!.slice(done, m);
          }
          const projected = fusion.project(takeBatch(batch, rows, false));
          for (const a of accs) a.update(rest, m - done, projected);
        }
      };
      let arrays = access.map((f) => f.arrays());
      try {
        for await (const batch of fusion.source.execute(ctx)) {
          checkCancelled(ctx);
          const n = batch.numRows;
          if (n === 0) continue;
          let sel: Int32Array | null = null;
          let m = n;
          if (fusion.predicate) {
            if (selBuf.length < n) selBuf = new Int32Array(n);
            const selected = fusion.predicate.selectInto(batch, selBuf);
            m = selected.length;
            if (m === 0) continue;
            if (m < n) sel = selected;
          }
          if (!groupIds) {
            fold(batch, sel, m);
            continue;
          }
          // Grouped: chunks of the selection, so the sort's arrays and the rows it gathers stay in cache.
          if (sel === null) {
            if (iota.length < n) iota = Int32Array.from({ length: n }, (_, i) => i);
            sel = iota;
          }
          const keyCols = fusion.keyColumns.map((k) => columnData(batch, k));
          for (let a = 0; a < m; a += CHUNK) fold(batch, sel.subarray(a, Math.min(m, a + CHUNK)), Math.min(m, a + CHUNK) - a, keyCols);
        }
      } finally {
        fusion.kernel.release();
      }
    } else {
      for await (const batch of this.input.execute(ctx)) {
        checkCancelled(ctx);
        const n = batch.numRows;
        if (n === 0) continue;
        let gids: Int32Array;
        if (groupIds) {
          gids = merge
            ? keys!.insert(
                this.groupKeys.map((k) => columnData(batch, k)),
                n,
              )
            : groupIds.assign(
                this.groupKeys.map((k) => columnData(batch, k)),
                null,
                n,
              );
          groups = keys!.size;
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


interface Fusion {
  /** The operator whose batches the aggregate reads (below the Project and Filter it absorbs). */
  readonly source: PhysicalOperator;
  readonly predicate: CompiledPredicate | null;
  /** Key columns, as positions in the source's batches. */
  readonly keyColumns: readonly number[];
  readonly kernel: CompiledFusedAggregate;
  /** The absorbed projection over source batches (for rows the kernel hands back). */
  readonly project: (batch: arrow.RecordBatch) => arrow.RecordBatch;
}

function stripAlias(e: Expr): Expr {
  return e.kind === 'alias' ? stripAlias(e.input) : e;
}

/** The fused path for an aggregate over `input`, when it applies (see the file comment). */
function planFusion(
  input: PhysicalOperator,
  groupKeys: readonly number[],
  aggregates: readonly AggregateSpec[],
  accTypes: readonly (DataType | null)[],
  mode: AggregateMode,
): Fusion | null {
  const project = input instanceof ProjectExec ? input : null;
  const below = project ? project.input : input;
  const filter = below instanceof FilterExec ? below : null;
  const source = filter ? filter.input : below;
  if (!project && !filter) return null;
  const sourceSchema = source.schema;
  const exprs: readonly Expr[] = project ? project.exprs : sourceSchema.fields.map((f, i) => boundColumn(i, f.name));
  // Every projected column must be used, so the fused path evaluates (and may raise on) the same values.
  const used = new Set<number>(groupKeys);
  for (const a of aggregates) if (a.input !== null) used.add(a.input);
  if (project && used.size !== exprs.length) return null;
  // User functions run row by row outside generated kernels, so they cannot be fused into one.
  if (exprs.some(containsUdf)) return null;
  const keyColumns: number[] = [];
  for (const k of groupKeys) {
    const e = stripAlias(exprs[k]!);
    if (e.kind !== 'column') return null;
    keyColumns.push(resolveField(sourceSchema, e.name, e.qualifier, e.index));
  }
  const slots: FusedSlot[] = [];
  for (const [j, a] of aggregates.entries()) {
    const access = makeAccumulator(a, accTypes[j]!, mode).fused?.() ?? null;
    if (access === null) return null;
    slots.push({ kind: access.kind, expr: a.input === null ? null : exprs[a.input]! });
  }
  const projection = project ? compileProjection(project.exprs, sourceSchema) : null;
  return {
    source,
    predicate: filter ? compilePredicate(filter.condition, sourceSchema) : null,
    keyColumns,
    kernel: compileFusedAggregate(slots, sourceSchema),
    project: (batch) => (projection ? projection.project(batch) : batch),
  };
}
