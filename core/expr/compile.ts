// The expression compiler's entry points: projections and predicates over record batches, built from
// generated kernels (./codegen.ts). Kernels are specialised per column layout (plain/dictionary, with/without
// nulls) and cached twice: by a canonical key of (mode, expression, referenced column types, layouts), and
// by generated source, so `new Function` runs once per distinct source for the life of the process.
import { BeyondDoubleRange, evaluateExact, exactlyEvaluable } from './exact.ts';
import * as arrow from 'apache-arrow';
import { columnData, dictionaryStrings, isDictionary, makeBatch, makeColumn, makeStringColumn } from '../arrow/column.ts';
import type { BatchPredicate } from '../exec/operator.ts';
import { toArrowType } from '../types/arrow-types.ts';
import { type DataType, typeToString } from '../types/data-type.ts';
import { AnalysisError, ExecutionError, SquallError } from '../types/errors.ts';
import { type Field, type Schema, resolveField, schema } from '../types/schema.ts';
import { type ColumnLayout, type FusedSlot, type KernelMode, type KernelSource, type SubCompiler, generateFusedKernel, generateKernel } from './codegen.ts';
import { type Expr, exprToString, visit } from './expr.ts';
import { type DictionaryEvaluator, type DictionaryResult, kernelLib } from './runtime.ts';
import { toField, typeOf } from './type-of.ts';
import { extractUdfs } from './udf.ts';

type KernelFn = (cols: readonly arrow.Data[], n: number, k: readonly unknown[], lib: typeof kernelLib, buf?: Int32Array) => unknown;

interface Kernel {
  readonly spec: KernelSource;
  readonly fn: KernelFn;
}

const functionsBySource = new Map<string, KernelFn>();
const kernelsByKey = new Map<string, Kernel>();
const dictionaryEvaluators = new Map<string, DictionaryEvaluator>();
const stats = { functionsCompiled: 0, kernelsGenerated: 0, kernelCacheHits: 0 };

/** Counters for tests and diagnostics: how often code was generated and `new Function` was called. */
export function kernelCacheStats(): Readonly<typeof stats> & { readonly kernels: number; readonly functions: number } {
  return { ...stats, kernels: kernelsByKey.size, functions: functionsBySource.size };
}

function referencedColumns(e: Expr, input: Schema): number[] {
  const refs = new Set<number>();
  visit(e, (n) => {
    if (n.kind === 'column') refs.add(resolveField(input, n.name, n.qualifier, n.index));
  });
  return [...refs].sort((a, b) => a - b);
}

function layoutCode(l: ColumnLayout): string {
  return `${l.dictionary ? 'd' : 'p'}${l.nulls ? 'n' : ''}`;
}

function layoutOf(data: arrow.Data): ColumnLayout {
  return { dictionary: isDictionary(data), nulls: data.nullCount > 0 };
}

function kernelFor(e: Expr, input: Schema, layouts: ReadonlyMap<number, ColumnLayout>, mode: KernelMode): Kernel {
  const refs = [...layouts.keys()].sort((a, b) => a - b);
  const key = [
    mode,
    JSON.stringify(e),
    refs.map((c) => `${c}:${typeToString(input.fields[c]!.type)}:${layoutCode(layouts.get(c)!)}`).join(','),
  ].join('|');
  const cached = kernelsByKey.get(key);
  if (cached) {
    stats.kernelCacheHits++;
    return cached;
  }
  const layout = (c: number): ColumnLayout => layouts.get(c) ?? { dictionary: false, nulls: true };
  const spec = generateKernel(e, input, layout, mode, mode === 'internal' ? null : subCompiler(input));
  if (process.env.SQUALL_DUMP_KERNELS) console.error(spec.source);
  stats.kernelsGenerated++;
  let fn = functionsBySource.get(spec.source);
  if (!fn) {
    fn = new Function('cols', 'n', 'k', 'lib', 'buf', `${spec.source}\n//# sourceURL=squall-kernel-${mode}-${functionsBySource.size}.js`) as KernelFn;
    functionsBySource.set(spec.source, fn);
    stats.functionsCompiled++;
  }
  const kernel = { spec, fn };
  kernelsByKey.set(key, kernel);
  return kernel;
}

function runKernel(kernel: Kernel, cols: readonly arrow.Data[], n: number, e: Expr, buf?: Int32Array): unknown {
  try {
    return kernel.fn(cols, n, kernel.spec.consts, kernelLib, buf);
  } catch (err) {
    if (err instanceof SquallError) throw err;
    throw new ExecutionError(`internal error evaluating ${exprToString(e)}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * The evaluator of `sub` over one dictionary's entries: the dictionary is turned into a plain utf8 column with
 * a trailing NULL entry (so NULL rows map to it) and run through an `internal`-mode kernel.
 */
function subCompiler(input: Schema): SubCompiler {
  return (sub: Expr, column: number) => {
    const key = `${JSON.stringify(sub)}|${column}|${input.fields.map((f) => `${f.name}:${typeToString(f.type)}`).join(',')}`;
    let evaluator = dictionaryEvaluators.get(key);
    if (!evaluator) {
      const layouts = new Map([[column, { dictionary: false, nulls: true }]]);
      evaluator = (data: arrow.Data): DictionaryResult => {
        const entries = [...dictionaryStrings(data).dictionary, null];
        const plain = makeStringColumn(entries);
        const kernel = kernelFor(sub, input, layouts, 'internal');
        const r = runKernel(kernel, [plain], entries.length, sub) as { values: ArrayLike<unknown>; validity: Uint8Array | null };
        return { values: r.values, validity: r.validity, nullIndex: entries.length - 1 };
      };
      dictionaryEvaluators.set(key, evaluator);
    }
    return evaluator;
  };
}

/** Wrap an `arrow`-mode kernel result as a column of `type` (one Data, offset 0). */
function toData(type: DataType, n: number, r: { values: unknown; validity: Uint8Array | null }): arrow.Data {
  const v = r.values;
  switch (type.kind) {
    case 'int64':
    case 'timestamp':
      return makeColumn(type, n, new BigInt64Array((v as Int32Array).buffer, 0, n), r.validity);
    case 'decimal':
      return makeColumn(type, n, new Uint32Array((v as Int32Array).buffer, 0, 2 * n), r.validity);
    case 'utf8': {
      const strings = v as (string | null)[];
      const valid = r.validity;
      if (valid) for (let i = 0; i < n; i++) if (!((valid[i >> 3]! >> (i & 7)) & 1)) strings[i] = null;
      return makeStringColumn(strings);
    }
    case 'null':
      return makeColumn(type, n, new Uint8Array(0), null);
    default:
      return makeColumn(type, n, v as Int32Array, r.validity);
  }
}

/** One expression compiled for an input schema; `evaluate` gives its column for a batch. */
export interface CompiledExpr {
  readonly field: Field;
  readonly type: DataType;
  evaluate(batch: arrow.RecordBatch): arrow.Data;
}

class ExprEvaluator {
  private readonly variants = new Map<string, Kernel>();
  readonly refs: readonly number[];

  constructor(
    readonly expr: Expr,
    private readonly input: Schema,
    private readonly mode: KernelMode,
  ) {
    this.refs = referencedColumns(expr, input);
  }

  run(batch: arrow.RecordBatch, buf?: Int32Array): unknown {
    const datas = new Map<number, arrow.Data>();
    const layouts = new Map<number, ColumnLayout>();
    let key = '';
    for (const c of this.refs) {
      const d = columnData(batch, c);
      datas.set(c, d);
      const l = layoutOf(d);
      layouts.set(c, l);
      key += layoutCode(l);
    }
    let kernel = this.variants.get(key);
    if (!kernel) {
      kernel = kernelFor(this.expr, this.input, layouts, this.mode);
      this.variants.set(key, kernel);
    }
    const cols = kernel.spec.columns.map((c) => datas.get(c)!);
    return runKernel(kernel, cols, batch.numRows, this.expr, buf);
  }
}

function stripAlias(e: Expr): Expr {
  return e.kind === 'alias' ? stripAlias(e.input) : e;
}

export function compileExpr(e: Expr, input: Schema): CompiledExpr {
  const f = toField(e, input);
  const core = stripAlias(e);
  // User functions run row by row (./udf.ts); the rest of the expression reads their values as extra columns.
  const udfs = extractUdfs(core, input, compileExpr);
  if (udfs) {
    const rest = compileExpr(udfs.expr, udfs.schema);
    return { field: f, type: f.type, evaluate: (batch) => rest.evaluate(udfs.extend(batch)) };
  }
  if (core.kind === 'column') {
    // A plain reference passes its Data through unchanged (dictionary strings stay dictionaries).
    const idx = resolveField(input, core.name, core.qualifier, core.index);
    return { field: f, type: f.type, evaluate: (batch) => columnData(batch, idx) };
  }
  const evaluator = new ExprEvaluator(core, input, 'arrow');
  let exact: boolean | undefined;
  return {
    field: f,
    type: f.type,
    evaluate(batch) {
      try {
        const r = evaluator.run(batch) as { values: unknown; validity: Uint8Array | null };
        return toData(f.type, batch.numRows, r);
      } catch (err) {
        // Beyond ±2^53 the kernel cannot be exact; integer/decimal arithmetic then runs again in BigInt.
        if (!(err instanceof BeyondDoubleRange)) throw err;
        exact ??= exactlyEvaluable(core, input);
        if (!exact) throw err;
        return evaluateExact(core, input, batch, f.type);
      }
    },
  };
}

export interface CompiledProjection {
  readonly schema: Schema;
  project(batch: arrow.RecordBatch): arrow.RecordBatch;
}

export function compileProjection(exprs: readonly Expr[], input: Schema): CompiledProjection {
  const compiled = exprs.map((e) => compileExpr(e, input));
  const out = schema(compiled.map((c) => c.field));
  const arrowFields = compiled.map((c) => new arrow.Field(c.field.name, toArrowType(c.type), c.field.nullable));
  const plainSchema = new arrow.Schema(arrowFields);
  return {
    schema: out,
    project(batch) {
      const cols = compiled.map((c) => c.evaluate(batch));
      // Passed-through dictionary columns keep their Dictionary type in the batch's Arrow schema.
      const needsOwnSchema = cols.some((d, i) => d.type.typeId !== arrowFields[i]!.type.typeId);
      const s = needsOwnSchema
        ? new arrow.Schema(cols.map((d, i) => new arrow.Field(arrowFields[i]!.name, d.type, arrowFields[i]!.nullable)))
        : plainSchema;
      return makeBatch(s, cols, batch.numRows);
    },
  };
}

export interface CompiledPredicate extends BatchPredicate {
  /** Like select, but the indices are a view of `buf` (when it holds `batch.numRows`), valid until it is reused. */
  selectInto(batch: arrow.RecordBatch, buf: Int32Array): Int32Array;
}

export function compilePredicate(condition: Expr, input: Schema): CompiledPredicate {
  const t = typeOf(condition, input);
  if (t.kind !== 'bool' && t.kind !== 'null') {
    throw new AnalysisError(`a filter condition must be bool, got ${typeToString(t)} in ${exprToString(condition)}`);
  }
  const udfs = extractUdfs(stripAlias(condition), input, compileExpr);
  if (udfs) {
    // Row positions are the same in the extended batch, so the selection applies to `batch` as it is.
    const rest = compilePredicate(udfs.expr, udfs.schema);
    return { select: (batch) => rest.select(udfs.extend(batch)), selectInto: (batch, buf) => rest.selectInto(udfs.extend(batch), buf) };
  }
  const evaluator = new ExprEvaluator(stripAlias(condition), input, 'select');
  return {
    select: (batch) => evaluator.run(batch) as Int32Array,
    selectInto: (batch, buf) => evaluator.run(batch, buf) as Int32Array,
  };
}

/**
 * The generated source of the kernel for `e` (for tests and explain). `layouts` gives column layouts by input
 * index (default: plain with nulls).
 */
export function explainKernel(
  e: Expr,
  input: Schema,
  options: { layouts?: ReadonlyMap<number, ColumnLayout>; mode?: KernelMode } = {},
): string {
  const core = stripAlias(e);
  const refs = referencedColumns(core, input);
  const layouts = new Map(refs.map((c) => [c, options.layouts?.get(c) ?? { dictionary: false, nulls: true }]));
  return kernelFor(core, input, layouts, options.mode ?? 'arrow').spec.source;
}

export type { FusedSlot };

type FusedFn = (
  cols: readonly arrow.Data[],
  n: number,
  k: readonly unknown[],
  lib: typeof kernelLib,
  sel: Int32Array | null,
  m: number,
  gids: Int32Array,
  acc: readonly (readonly unknown[])[],
  st: { stopped: number },
  runEnds: Int32Array | null,
  runGroups: Int32Array | null,
  runCount: number,
) => void;

const fusedBySource = new Map<string, FusedFn>();
const EMPTY = new Int32Array(0);

/** Input expressions of an aggregation compiled into one kernel per column layout (see codegen's finishFused). */
export interface CompiledFusedAggregate {
  /**
   * Folds rows sel[0..m) of `batch` (rows 0..m when `sel` is null), row sel[s] into group gids[s], into the
   * arrays `acc` (per slot, see FusedSlot). Returns m, or the position of the first row not folded because a
   * value left the range doubles hold exactly (rows before it are folded): the caller folds the rest exactly.
   * With `runs`, positions are grouped in runs of one group instead (`gids` is not read): positions
   * [ends[r-1], ends[r]) belong to group groups[r].
   */
  run(
    batch: arrow.RecordBatch,
    sel: Int32Array | null,
    m: number,
    gids: Int32Array | null,
    acc: readonly (readonly unknown[])[],
    runs?: { readonly ends: Int32Array; readonly groups: Int32Array; readonly count: number },
  ): number;
  /** Drops the reference to the last batch run (kept so that the calls for one batch share their setup). */
  release(): void;
}

export function compileFusedAggregate(slots: readonly FusedSlot[], input: Schema): CompiledFusedAggregate {
  const refSet = new Set<number>();
  for (const s of slots) if (s.expr) for (const c of referencedColumns(s.expr, input)) refSet.add(c);
  const refs = [...refSet].sort((a, b) => a - b);
  const variants = new Map<string, { spec: KernelSource; fn: FusedFn }>();
  const st = { stopped: 0 };
  const shown = slots.filter((s) => s.expr).map((s) => exprToString(s.expr!)).join(', ');
  let lastBatch: arrow.RecordBatch | null = null;
  let lastRuns = false;
  let lastKernel: { spec: KernelSource; fn: FusedFn } | null = null;
  let lastCols: arrow.Data[] = [];
  return {
    run(batch, sel, m, gids, acc, runs) {
      // Several calls per batch (chunks of its rows): the columns and kernel are looked up once per batch.
      if (batch !== lastBatch || (runs !== undefined) !== lastRuns) {
        const datas = new Map<number, arrow.Data>();
        const layouts = new Map<number, ColumnLayout>();
        let key = '';
        for (const c of refs) {
          const d = columnData(batch, c);
          datas.set(c, d);
          const l = layoutOf(d);
          layouts.set(c, l);
          key += layoutCode(l);
        }
        if (runs) key += 'r';
        let kernel = variants.get(key);
        if (!kernel) {
          const layout = (c: number): ColumnLayout => layouts.get(c) ?? { dictionary: false, nulls: true };
          const spec = generateFusedKernel(slots, input, layout, subCompiler(input), runs !== undefined);
          if (process.env.SQUALL_DUMP_KERNELS) console.error(spec.source);
          stats.kernelsGenerated++;
          let fn = fusedBySource.get(spec.source);
          if (!fn) {
            fn = new Function('cols', 'n', 'k', 'lib', 'sel', 'm', 'gids', 'acc', 'st', 'runEnds', 'runGroups', 'runCount', `${spec.source}\n//# sourceURL=squall-kernel-fused-${fusedBySource.size}.js`) as FusedFn;
            fusedBySource.set(spec.source, fn);
            stats.functionsCompiled++;
          }
          kernel = { spec, fn };
          variants.set(key, kernel);
        }
        lastBatch = batch;
        lastRuns = runs !== undefined;
        lastKernel = kernel;
        lastCols = kernel.spec.columns.map((c) => datas.get(c)!);
      }
      const kernel = lastKernel!;
      const cols = lastCols;
      st.stopped = m;
      try {
        kernel.fn(cols, batch.numRows, kernel.spec.consts, kernelLib, sel, m, gids ?? EMPTY, acc, st, runs?.ends ?? null, runs?.groups ?? null, runs?.count ?? 0);
      } catch (err) {
        if (err instanceof BeyondDoubleRange) return st.stopped;
        if (err instanceof SquallError) throw err;
        throw new ExecutionError(`internal error evaluating ${shown}: ${(err as Error).message}`, { cause: err });
      }
      return m;
    },
    release() {
      lastBatch = null;
      lastKernel = null;
      lastCols = [];
    },
  };
}
