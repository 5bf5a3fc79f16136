// The lazy DataFrame: each transformation returns a new DataFrame around a new (validated) logical plan; the
// actions (count, collect, toArrow, show, write) run it.
import type * as arrow from 'apache-arrow';
import * as E from '../expr/expr.ts';
import type { Expr, SortOrder } from '../expr/expr.ts';
import { AnalysisError } from '../types/errors.ts';
import { type Schema, resolveField, schemaToString } from '../types/schema.ts';
import { planSchema } from '../plan/analyzer.ts';
import type { JoinType, LogicalPlan } from '../plan/logical-plan.ts';
import { extractWindows } from '../plan/extract-windows.ts';
import { stageGraphText } from '../physical/stages.ts';
import { Column, type ColumnLike, columnExpr } from './column.ts';
import { type Row, batchesToRows, batchesToTable, formatTable } from './rows.ts';
import type { Session } from './session.ts';
import { DataFrameWriter } from './writer.ts';
import { RemoteDataFrameWriter } from './remote.ts';
import { planIdOf, resolveJoinRefs, resolvePlanRefs } from './plan-refs.ts';
import { type RDD, dataFrameRdd } from '../rdd/rdd.ts';
import { type StorageLevel, persistPlan, storageLevelOf, unpersistPlan } from '../cache/plan-cache.ts';
import type { ModelLike, RegisterModelOptions } from './udf.ts';

const JOIN_TYPES: Record<string, JoinType> = {
  inner: 'inner',
  cross: 'cross',
  left: 'left',
  leftouter: 'left',
  left_outer: 'left',
  right: 'right',
  rightouter: 'right',
  right_outer: 'right',
  full: 'full',
  outer: 'full',
  fullouter: 'full',
  full_outer: 'full',
  semi: 'semi',
  leftsemi: 'semi',
  left_semi: 'semi',
  anti: 'anti',
  leftanti: 'anti',
  left_anti: 'anti',
};

export type JoinHow = keyof typeof JOIN_TYPES;

function freeze<T extends object>(o: T): T {
  return Object.freeze(o);
}

function flatten<T>(items: readonly (T | readonly T[])[]): T[] {
  const out: T[] = [];
  for (const i of items) {
    if (Array.isArray(i)) out.push(...(i as T[]));
    else out.push(i as T);
  }
  return out;
}

/**
 * A column of a DataFrame whose column names `C` are known to the type checker: one of them, qualified by an
 * alias (`a.id`), `*`, or a Column expression. With `C = string` (names not declared) any name is accepted.
 */
export type ColumnOf<C extends string> = C | `${string}.${C}` | '*' | Column;

/**
 * A DataFrame. `C` is the union of its column names when they are known to the type checker (from
 * `createDataFrame(rows)`, `read.parquet<'a' | 'b'>(…)`, `select('a')`, `withColumn('n', …)`…), so names
 * autocomplete and a misspelt one is a compile error; it is `string` when they are not (SQL, aggregates).
 */
export class DataFrame<C extends string = string> {
  /** The output schema; computing it validates the whole plan, so a bad DataFrame fails here. */
  readonly schema: Schema;

  constructor(
    readonly session: Session,
    readonly plan: LogicalPlan,
  ) {
    this.schema = planSchema(plan);
  }

  private with<K extends string = C>(plan: LogicalPlan): DataFrame<K> {
    return new DataFrame(this.session, plan) as DataFrame<K>;
  }

  get columns(): C[] {
    return this.schema.fields.map((f) => f.name as C);
  }

  /** A reference to one of this DataFrame's columns, checked now. It keeps referring to this DataFrame's column
   * after joins, e.g. `a.join(b, a.col('id').eq(b.col('id'))).select(a.col('id'))`. */
  col(name: C | `${string}.${C}`): Column {
    const e = columnExpr(name);
    if (e.kind !== 'column') return new Column(e);
    const f = this.schema.fields[resolveField(this.schema, e.name, e.qualifier)]!;
    const ref: Expr = { kind: 'column', name: f.name, ...(f.qualifier ? { qualifier: f.qualifier } : {}), planId: planIdOf(this.plan) };
    return new Column(Object.freeze(ref));
  }

  /** Turns `df.col()` references into names that resolve in this DataFrame. */
  private resolve(e: Expr): Expr {
    return resolvePlanRefs(e, this.plan, this.schema);
  }

  /** Names this DataFrame so its columns can be referenced as `alias.column` (e.g. in self-joins). */
  alias(name: string): DataFrame<C> {
    return this.with(freeze({ kind: 'alias', input: this.plan, alias: name }));
  }

  select<K extends C>(...names: K[]): DataFrame<K>;
  select(...cols: (ColumnOf<C> | readonly ColumnOf<C>[])[]): DataFrame;
  select(...cols: (ColumnLike | readonly ColumnLike[])[]): DataFrame {
    const exprs: Expr[] = [];
    for (const c of flatten(cols)) {
      if (c === '*') exprs.push(...this.schema.fields.map((f) => E.column(f.name, f.qualifier)));
      else exprs.push(this.resolve(columnExpr(c)));
    }
    if (exprs.length === 0) throw new AnalysisError('select() needs at least one column');
    if (exprs.some(E.containsAggregate)) {
      // select(sum(x)) is a global aggregate, as in Spark.
      return this.with(freeze({ kind: 'aggregate', input: this.plan, groupBy: [], aggregates: exprs }));
    }
    // Window functions are computed by Window nodes below the projection.
    return this.with(extractWindows(this.plan, exprs));
  }

  filter(condition: Column): DataFrame<C> {
    if (!(condition instanceof Column)) {
      throw new AnalysisError('filter() takes a Column, e.g. filter(col("x").gt(3)); SQL text conditions need session.sql()');
    }
    return this.with(freeze({ kind: 'filter', input: this.plan, condition: this.resolve(condition.expr) }));
  }

  where(condition: Column): DataFrame<C> {
    return this.filter(condition);
  }

  /** Adds a column, or replaces the one with the same name in place. */
  withColumn<N extends string>(name: N, value: Column): DataFrame<C | N> {
    const fields = this.schema.fields;
    let replaced = false;
    const exprs: Expr[] = fields.map((f) => {
      if (f.name === name) {
        replaced = true;
        return E.alias(this.resolve(value.expr), name);
      }
      return E.column(f.name, f.qualifier);
    });
    if (!replaced) exprs.push(E.alias(this.resolve(value.expr), name));
    return this.select(...exprs.map((e) => new Column(e))) as DataFrame<C | N>;
  }

  withColumnRenamed<E extends C, N extends string>(existing: E, renamed: N): DataFrame<Exclude<C, E> | N> {
    const i = resolveField(this.schema, existing);
    const exprs = this.schema.fields.map((f, j) =>
      j === i ? E.alias(E.column(f.name, f.qualifier), renamed) : E.column(f.name, f.qualifier),
    );
    return this.with(freeze({ kind: 'project', input: this.plan, exprs }));
  }

  drop<K extends C>(...names: K[]): DataFrame<Exclude<C, K>> {
    const dropped = new Set(names.map((n) => resolveField(this.schema, n)));
    const exprs = this.schema.fields.filter((_, i) => !dropped.has(i)).map((f) => E.column(f.name, f.qualifier));
    if (exprs.length === 0) throw new AnalysisError('drop() would remove every column');
    return this.with(freeze({ kind: 'project', input: this.plan, exprs }));
  }

  groupBy(...cols: (ColumnOf<C> | readonly ColumnOf<C>[])[]): GroupedData<C> {
    return new GroupedData<C>(this, flatten<ColumnLike>(cols).map((c) => this.resolve(columnExpr(c))));
  }

  groupby(...cols: (ColumnOf<C> | readonly ColumnOf<C>[])[]): GroupedData<C> {
    return this.groupBy(...cols);
  }

  /** Aggregate over all rows: `df.agg(F.sum('x'), F.count())`. */
  agg(...exprs: (Column | readonly Column[])[]): DataFrame {
    return new GroupedData<C>(this, []).agg(...exprs);
  }

  /**
   * Joins with `other`. `on` is a column name or list of names present on both sides (they appear once in the
   * output), or a boolean Column condition. `how`: inner, left, right, full/outer, semi, anti, cross.
   */
  join<D extends string>(other: DataFrame<D>, on?: (C & D) | readonly (C & D)[] | Column, how: JoinHow | string = 'inner'): DataFrame<C | D> {
    const joinType = JOIN_TYPES[how.toLowerCase()];
    if (!joinType) {
      throw new AnalysisError(`unknown join type '${how}'. Use one of: ${Object.keys(JOIN_TYPES).join(', ')}`);
    }
    if (other.session !== this.session) throw new AnalysisError('cannot join DataFrames from different sessions');
    let using: readonly string[] = [];
    let condition: Expr | null = null;
    let left = this.plan;
    let right = other.plan;
    if (on instanceof Column) {
      ({ condition, left, right } = resolveJoinRefs(on.expr, left, right, planSchema));
    } else if (typeof on === 'string') using = [on];
    else if (Array.isArray(on)) using = [...on];
    if (!on && joinType !== 'cross') {
      throw new AnalysisError(`${how} join needs a join condition or column names; use crossJoin() for a cartesian product`);
    }
    return this.with<C | D>(freeze({ kind: 'join', left, right, joinType, on: condition, using: freeze([...using]) }));
  }

  crossJoin<D extends string>(other: DataFrame<D>): DataFrame<C | D> {
    return this.join(other, undefined, 'cross');
  }

  orderBy(...cols: (ColumnOf<C> | readonly ColumnOf<C>[])[]): DataFrame<C> {
    const orders: SortOrder[] = flatten<ColumnLike>(cols).map((c) => {
      if (c instanceof Column && c.order) return { ...c.order, expr: this.resolve(c.order.expr) };
      return E.sortOrder(this.resolve(columnExpr(c)), true, true);
    });
    if (orders.length === 0) throw new AnalysisError('orderBy() needs at least one column');
    return this.with(freeze({ kind: 'sort', input: this.plan, orders }));
  }

  sort(...cols: (ColumnOf<C> | readonly ColumnOf<C>[])[]): DataFrame<C> {
    return this.orderBy(...cols);
  }

  limit(n: number): DataFrame<C> {
    return this.with(freeze({ kind: 'limit', input: this.plan, limit: n, offset: 0 }));
  }

  offset(n: number): DataFrame<C> {
    return this.with(freeze({ kind: 'limit', input: this.plan, limit: null, offset: n }));
  }

  distinct(): DataFrame<C> {
    return this.with(freeze({ kind: 'distinct', input: this.plan }));
  }

  /** Removes rows that repeat on `subset` (all columns by default), keeping the first seen. */
  dropDuplicates(subset?: readonly C[]): DataFrame<C> {
    if (!subset || subset.length === 0) return this.distinct();
    const keys = new Set(subset.map((n) => resolveField(this.schema, n)));
    const groupBy = [...keys].map((i) => E.column(this.schema.fields[i]!.name, this.schema.fields[i]!.qualifier));
    const aggregates = this.schema.fields.map((f, i) =>
      keys.has(i) ? E.column(f.name, f.qualifier) : E.alias(E.aggregate('first', [E.column(f.name, f.qualifier)]), f.name),
    );
    return this.with(freeze({ kind: 'aggregate', input: this.plan, groupBy, aggregates }));
  }

  drop_duplicates(subset?: readonly C[]): DataFrame<C> {
    return this.dropDuplicates(subset);
  }

  /** UNION ALL by position, as Spark's union. Chain distinct() for SQL UNION. */
  union(other: DataFrame): DataFrame<C> {
    return this.with(freeze({ kind: 'union', inputs: [this.plan, other.plan], byName: false }));
  }

  unionAll(other: DataFrame): DataFrame<C> {
    return this.union(other);
  }

  unionByName(other: DataFrame): DataFrame<C> {
    return this.with(freeze({ kind: 'union', inputs: [this.plan, other.plan], byName: true }));
  }

  repartition(numPartitions: number, ...cols: ColumnOf<C>[]): DataFrame<C> {
    if (!Number.isInteger(numPartitions) || numPartitions < 1) {
      throw new AnalysisError(`repartition() needs a positive integer number of partitions, got ${numPartitions}`);
    }
    return this.with(freeze({ kind: 'repartition', input: this.plan, numPartitions, keys: cols.map(columnExpr) }));
  }

  /**
   * This DataFrame with a BatchModel's output columns appended, as `model.transform(df)` would give, but lazy: an
   * ApplyModel step of the plan (run in its own stage on the model's worker kind in a cluster, and on executors
   * through the local stack or AWS). Async only because an in-memory model is saved first, where tasks load it
   * (see session.udf.registerModel for the options); `model` may also be the URI of a saved model.
   */
  async applyModel(model: ModelLike | string, options: RegisterModelOptions & { readonly outputCols?: readonly string[] } = {}): Promise<DataFrame> {
    const { ref, model: live } = await this.session.udf.prepareModel('applyModel', model, options);
    const schema = this.schema;
    const out = live.transformSchema(schema);
    let added = out.fields.slice(schema.fields.length);
    if (options.outputCols) {
      const missing = options.outputCols.filter((c) => !added.some((f) => f.name === c));
      if (missing.length) throw new AnalysisError(`applyModel(): outputCols ${missing.join(', ')} are not columns the model adds (it adds ${added.map((f) => f.name).join(', ')})`);
      added = added.filter((f) => options.outputCols!.includes(f.name));
    }
    return this.with(
      freeze({
        kind: 'apply_model',
        input: this.plan,
        model: ref,
        // The model sees the whole row, as transform(df) does.
        inputs: freeze(schema.fields.map((f) => E.column(f.name, f.qualifier))),
        outputs: freeze(added.map((f) => freeze({ name: f.name, as: f.name, type: f.type, nullable: f.nullable }))),
      }),
    );
  }

  /** Registers this DataFrame as a table name for session.sql(). */
  createOrReplaceTempView(name: string): void {
    this.session.registerTable(name, this);
  }

  // ---- actions ----

  async count(): Promise<number> {
    const counted = this.with(freeze({ kind: 'aggregate', input: this.plan, groupBy: [], aggregates: [E.alias(E.aggregate('count', []), 'count')] }));
    const rows = await counted.collect();
    return Number(rows[0]!['count']);
  }

  /** All rows as plain objects. */
  async collect(): Promise<Row[]> {
    const { batches } = await this.session.execute(this.plan);
    return batchesToRows(this.schema, batches);
  }

  async toArrow(): Promise<arrow.Table> {
    const { batches } = await this.session.execute(this.plan);
    return batchesToTable(this.schema, batches);
  }

  async take(n: number): Promise<Row[]> {
    return this.limit(n).collect();
  }

  async head(n = 1): Promise<Row[]> {
    return this.take(n);
  }

  async first(): Promise<Row | null> {
    return (await this.take(1))[0] ?? null;
  }

  async isEmpty(): Promise<boolean> {
    return (await this.take(1)).length === 0;
  }

  /** The text table show() prints. `truncate`: true cuts cells at 20 characters, a number at that many, false never. */
  async showString(n = 20, truncate: boolean | number = true): Promise<string> {
    const rows = await this.limit(n + 1).collect();
    const width = truncate === true ? 20 : truncate === false ? 0 : truncate;
    return formatTable(this.schema, rows.slice(0, n), width, rows.length > n);
  }

  async show(n = 20, truncate: boolean | number = true): Promise<void> {
    console.log(await this.showString(n, truncate));
  }

  printSchema(): void {
    console.log(schemaToString(this.schema));
  }

  /**
   * The plans as indented text. 'extended' (the default): the parsed (logical), optimized and physical plans and
   * the stage graph a cluster run would use; 'simple': the physical plan only.
   */
  explainString(mode: 'simple' | 'extended' = 'extended'): Promise<string> {
    return this.session.explain(this.plan, mode);
  }

  async explain(mode: 'simple' | 'extended' = 'extended'): Promise<void> {
    console.log(await this.explainString(mode));
  }

  /** The stage graph a cluster run would use: stages cut at exchanges, with task counts from input sizes. */
  async explainStages(): Promise<string> {
    return stageGraphText(await this.session.stageGraph(this.plan));
  }

  get write(): DataFrameWriter {
    const remote = this.session.remote;
    if (remote) return new RemoteDataFrameWriter(this, remote, this.session.sqlSource(this.plan));
    return new DataFrameWriter(this);
  }

  /**
   * Keeps this DataFrame's output once the first action has computed it; later actions on it (or on
   * DataFrames built from it) read the cached rows instead of recomputing, until an input file changes.
   */
  persist(level: StorageLevel = 'MEMORY_AND_DISK'): this {
    persistPlan(this.session, this.plan, level);
    return this;
  }

  cache(): this {
    return this.persist();
  }

  unpersist(): this {
    unpersistPlan(this.session, this.plan);
    return this;
  }

  /** The level this DataFrame is persisted at, or null. */
  get storageLevel(): StorageLevel | null {
    return storageLevelOf(this.session, this.plan);
  }

  /** The rows as an RDD of plain objects (computed when an RDD action runs). */
  get rdd(): RDD<Row> {
    return dataFrameRdd(this.session, this.plan) as RDD<Row>;
  }
}

export class GroupedData<C extends string = string> {
  constructor(
    private readonly df: DataFrame<C>,
    private readonly keys: readonly Expr[],
  ) {}

  agg(...exprs: (Column | readonly Column[])[]): DataFrame {
    const aggs = flatten(exprs).map((c) => resolvePlanRefs(c.expr, this.df.plan, this.df.schema));
    if (aggs.length === 0) throw new AnalysisError('agg() needs at least one aggregate expression');
    // As in Spark, the grouping columns come first in the output.
    const aggregates = [...this.keys, ...aggs];
    return new DataFrame(this.df.session, Object.freeze({ kind: 'aggregate', input: this.df.plan, groupBy: this.keys, aggregates }));
  }

  count(): DataFrame {
    return this.agg(new Column(E.alias(E.aggregate('count', []), 'count')));
  }

  private each(fn: E.AggregateFunctionName, cols: C[]): DataFrame {
    if (cols.length === 0) throw new AnalysisError(`${fn}() needs at least one column name`);
    return this.agg(...cols.map((c) => new Column(E.alias(E.aggregate(fn, [columnExpr(c)]), `${fn}(${c})`))));
  }

  sum(...cols: C[]): DataFrame { return this.each('sum', cols); }
  avg(...cols: C[]): DataFrame { return this.each('avg', cols); }
  mean(...cols: C[]): DataFrame { return this.each('avg', cols); }
  min(...cols: C[]): DataFrame { return this.each('min', cols); }
  max(...cols: C[]): DataFrame { return this.each('max', cols); }
}
