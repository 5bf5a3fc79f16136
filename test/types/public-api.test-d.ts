// A type-level test of the public API, as users import it (`from 'squall'`). It is checked by `tsc --noEmit -p .`
// (test/ is in tsconfig's include) and never run (vitest picks up `*.test.ts` only): a change to a signature that
// breaks user code fails the type check. `@ts-expect-error` lines are calls that must stay rejected.
import type * as arrow from 'apache-arrow';
import {
  AnalysisError,
  type Column,
  type ConnectOptions,
  type DataFrame,
  type DataFrameReader,
  type DataFrameWriter,
  type DataType,
  DataTypes,
  ExecutionError,
  type GroupedData,
  type JobInfo,
  type JobSpec,
  type Row,
  type Schema,
  Session,
  type SessionOptions,
  SquallClient,
  SquallError,
  type Value,
  Window,
  type WindowSpec,
  col,
  functions as F,
  lit,
  when,
} from 'squall';

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function expectType<T extends true>(_: T): void {}
declare function value<T>(): T;

// ---- sessions ----
expectType<Equal<typeof Session.local, (options?: SessionOptions) => Session>>(true);
expectType<Equal<typeof Session.connect, (options: ConnectOptions) => Session>>(true);
expectType<Equal<ConnectOptions['endpoint'], string>>(true);
expectType<Equal<ConnectOptions['apiKey'], string>>(true);
expectType<Equal<ConnectOptions['onProgress'], ((job: JobInfo) => void) | undefined>>(true);
expectType<Equal<ConnectOptions['pollMs'], number | undefined>>(true);
expectType<Equal<JobInfo['state'], 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled' | (string & {})>>(true);
expectType<Equal<Session['remote'] extends null ? true : false, false>>(true);
expectType<Equal<NonNullable<Session['remote']>['client'], SquallClient>>(true);
expectType<Equal<JobInfo['tasks'], { readonly done: number; readonly total: number; readonly running: number }>>(true);

function sessions(): void {
  Session.local();
  Session.local({ planning: 'stages', stages: { targetBytesPerTask: 1 << 20 }, broadcastThreshold: 0 });
  // @ts-expect-error planning is one of 'local' | 'distributed' | 'stages'
  Session.local({ planning: 'cluster' });
  Session.connect({ endpoint: 'http://127.0.0.1:3000', apiKey: 'k', pollMs: 100, onProgress: (j) => void j.tasks.done });
  Session.connect({ endpoint: 'http://x', apiKey: 'k', jobOptions: { maxPartitions: 4, scheduler: { concurrency: 8 } } });
  Session.connect({ endpoint: 'http://x', apiKey: 'k', results: 's3', pageSize: 5000 });
  // @ts-expect-error results come through the API or S3
  Session.connect({ endpoint: 'http://x', apiKey: 'k', results: 'ftp' });
  // @ts-expect-error an API key is required
  Session.connect({ endpoint: 'http://127.0.0.1:3000' });
  // @ts-expect-error progress callbacks receive the job status
  Session.connect({ endpoint: 'http://x', apiKey: 'k', onProgress: (j: string) => j });
  // @ts-expect-error connect takes options, not a URL
  Session.connect('http://127.0.0.1:3000');
}

// ---- readers and DataFrames ----
async function dataframes(session: Session): Promise<void> {
  expectType<Equal<typeof session.read, DataFrameReader>>(true);
  const df: DataFrame = await session.read.parquet('s3://bucket/a.parquet', 's3://bucket/b.parquet');
  const csv: Promise<DataFrame> = session.read.option('header', true).options({ delimiter: ';' }).csv('x.csv');
  const json: Promise<DataFrame> = session.read.schema({ a: 'int64', b: 'string' }).json('x.ndjson');
  void csv;
  void json;
  // @ts-expect-error readers are async: the schema comes from the files
  const notYet: DataFrame = session.read.parquet('x.parquet');
  void notYet;

  expectType<Equal<typeof df.schema, Schema>>(true);
  expectType<Equal<typeof df.columns, string[]>>(true);
  const q: DataFrame = df
    .select('a', col('b').plus(1).alias('b1'), '*')
    .filter(col('a').gt(3).and(col('b').isNotNull()))
    .where(col('c').like('x%'))
    .withColumn('d', F.upper('c'))
    .withColumnRenamed('d', 'e')
    .drop('e')
    .join(df.alias('o'), 'a', 'left')
    .join(df, df.col('a').eq(df.col('b')))
    .orderBy(col('a').desc(), 'b')
    .limit(10)
    .offset(1)
    .distinct()
    .dropDuplicates(['a'])
    .union(df)
    .unionByName(df)
    .repartition(4, 'a');
  const grouped: GroupedData = q.groupBy('a', col('b'));
  const agg: DataFrame = grouped.agg(F.sum('x').alias('s'), F.count(), F.countDistinct('y'), F.avg(col('z')));
  grouped.count();
  grouped.sum('x', 'y');
  df.agg(F.max('a'));
  session.sql('SELECT 1').createOrReplaceTempView('t');
  session.registerTable('t2', agg);
  session.table('t2');
  // @ts-expect-error filter takes a Column, not SQL text
  df.filter('a > 3');
  // @ts-expect-error limit takes a number
  df.limit('10');
  // Join types are checked when the DataFrame is built (JoinHow is `string` today, so not here).
  const how: import('squall').JoinHow = 'left_anti';
  df.join(df, ['a', 'b'], how);

  // ---- actions: the same types in local and remote mode ----
  expectType<Equal<Awaited<ReturnType<DataFrame['collect']>>, Row[]>>(true);
  expectType<Equal<Awaited<ReturnType<DataFrame['count']>>, number>>(true);
  expectType<Equal<Awaited<ReturnType<DataFrame['toArrow']>>, arrow.Table>>(true);
  expectType<Equal<Awaited<ReturnType<DataFrame['show']>>, void>>(true);
  expectType<Equal<Awaited<ReturnType<DataFrame['first']>>, Row | null>>(true);
  expectType<Equal<Awaited<ReturnType<DataFrame['take']>>, Row[]>>(true);
  expectType<Equal<Row, Record<string, Value>>>(true);
  expectType<Equal<Value, null | boolean | number | string | Date | Float32Array | bigint>>(true);
  const rows = await df.collect();
  const v: Value | undefined = rows[0]?.['a'];
  void v;
  await df.show(5, false);
  await df.explain('simple');
  const w: DataFrameWriter = df.write.mode('overwrite').option('compression', 'zstd');
  await w.parquet('s3://bucket/out');
  // @ts-expect-error unknown save mode
  df.write.mode('replace');
}

// ---- columns and functions ----
function columns(): void {
  const c: Column = col('a');
  const exprs: Column[] = [
    c.eq(1), c.neq('x'), c.gt(lit(2)), c.geq(c), c.lt(1n), c.leq(new Date()),
    c.plus(1), c.minus(c), c.multiply(2), c.divide(3), c.mod(4),
    c.and(c), c.or(c), c.not(), c.negate(), c.isNull(), c.isNotNull(),
    c.isin(1, 2, 3), c.isin([1, 2]), c.between(1, 2), c.like('a%'), c.ilike('A%'),
    c.startsWith('a'), c.endsWith('z'), c.contains('m'), c.substr(1, 2),
    c.alias('x'), c.as('y'), c.name('z'), c.cast('double'), c.cast(DataTypes.int64), c.astype('string'),
    c.asc(), c.desc(), c.ascNullsFirst(), c.descNullsLast(),
    when(c.gt(1), 'big').when(c.gt(0), 'small').otherwise('none'),
    F.count(), F.count('a'), F.sum('a'), F.avg(c), F.mean('a'), F.min('a'), F.max('a'), F.stddev('a'), F.variance('a'),
    F.first('a'), F.last('a'), F.countDistinct('a'),
    F.coalesce('a', c), F.isnull('a'), F.not(c), F.upper('a'), F.lower('a'), F.length('a'), F.substring('a', 1, 2),
    F.concat('a', 'b'), F.trim('a'), F.ltrim('a'), F.rtrim('a'), F.replace('a', 'x', 'y'),
    F.year('d'), F.month('d'), F.dayOfMonth('d'), F.dateAdd('d', 1), F.dateDiff('day', 'd', 'e'), F.extract('quarter', 'd'),
    F.toDate('s'), F.date('2024-01-01'), F.abs('a'), F.round('a', 2), F.floor('a'), F.ceil('a'), F.sqrt('a'),
    F.pow('a', 2), F.exp('a'), F.log('a'), F.asc('a'), F.desc('a'), F.lit(1), F.col('a'),
  ];
  void exprs;
  const spec: WindowSpec = Window.partitionBy('a').orderBy(col('b').desc()).rowsBetween(Window.unboundedPreceding, Window.currentRow);
  const ranked: Column[] = [F.rowNumber().over(spec), F.rank().over(spec), F.denseRank().over(Window.orderBy('a')), F.sum('x').over(spec)];
  void ranked;
  // @ts-expect-error column names are strings or Columns
  col(1);
  // @ts-expect-error unknown extract field
  F.extract('fortnight', 'd');
  // @ts-expect-error dateDiff units are day, month or year
  F.dateDiff('hour', 'a', 'b');
  // @ts-expect-error lit takes plain values
  lit({ a: 1 });
  const t: DataType = DataTypes.decimal(12, 2);
  void t;
}

// ---- the client and errors ----
async function client(): Promise<void> {
  const c = new SquallClient({ endpoint: 'http://x', apiKey: 'k' });
  const spec: JobSpec = { sql: 'SELECT 1', tables: { t: { path: 's3://b/t.parquet', format: 'parquet' } }, options: { resultUri: 's3://b/out' } };
  const { jobId } = await c.submit(spec);
  const info: JobInfo = await c.wait(jobId, { pollMs: 100, onProgress: (j) => void j.stages.length });
  expectType<Equal<typeof info.error, string | null>>(true);
  const page = await c.resultPage(jobId, 0, 100);
  expectType<Equal<typeof page.total, number>>(true);
  await c.cancel(jobId);
  await c.jobs({ limit: 10 });
  await c.events(jobId, { after: null, waitSeconds: 5 });
  // @ts-expect-error table formats are parquet, csv or json
  const bad: JobSpec = { sql: 'x', tables: { t: { path: 'p', format: 'orc' } } };
  void bad;
  const errors: SquallError[] = [new AnalysisError('x'), new ExecutionError('y')];
  void errors;
}

/** Column names the type checker knows: they autocomplete, and a misspelt one does not compile. */
async function typedColumns(session: Session) {
  const people = session.createDataFrame([{ name: 'a', age: 3, city: 'x' }]);
  expectType<Equal<typeof people, DataFrame<'name' | 'age' | 'city'>>>(true);
  expectType<Equal<(typeof people)['columns'], ('name' | 'age' | 'city')[]>>(true);
  people.col('age');
  people.col('p.age');
  // @ts-expect-error 'agee' is not a column of people
  people.col('agee');
  expectType<Equal<ReturnType<typeof people.select<'name' | 'age'>>, DataFrame<'name' | 'age'>>>(true);
  const two = people.select('name', 'age');
  expectType<Equal<typeof two, DataFrame<'name' | 'age'>>>(true);
  // @ts-expect-error 'city' was not selected
  two.col('city');
  const more = people.withColumn('decade', col('age').divide(10));
  expectType<Equal<typeof more, DataFrame<'name' | 'age' | 'city' | 'decade'>>>(true);
  const renamed = people.withColumnRenamed('city', 'town');
  expectType<Equal<typeof renamed, DataFrame<'name' | 'age' | 'town'>>>(true);
  const dropped = people.drop('city');
  expectType<Equal<typeof dropped, DataFrame<'name' | 'age'>>>(true);
  // @ts-expect-error only existing columns can be dropped
  people.drop('nope');
  // Filters, sorts and limits keep the names; expressions and aggregates give `string` names.
  const kept = people.filter(col('age').gt(1)).orderBy('age').limit(3);
  expectType<Equal<typeof kept, DataFrame<'name' | 'age' | 'city'>>>(true);
  // @ts-expect-error orderBy takes this DataFrame's columns
  people.orderBy('agee');
  people.groupBy('city').sum('age');
  // @ts-expect-error sum() takes this DataFrame's columns
  people.groupBy('city').sum('ages');
  const cities = session.createDataFrame([{ city: 'x', country: 'y' }]);
  const joined = people.join(cities, 'city');
  expectType<Equal<typeof joined, DataFrame<'name' | 'age' | 'city' | 'country'>>>(true);
  // @ts-expect-error a using-join column must exist on both sides
  people.join(cities, 'country');
  // Files: the caller may name the columns; otherwise they are `string`.
  const items = await session.read.parquet<'l_orderkey' | 'l_quantity'>('lineitem.parquet');
  items.col('l_quantity');
  // @ts-expect-error not among the declared columns
  items.col('l_qty');
  const untyped: DataFrame = await session.read.parquet('x.parquet');
  untyped.col('anything');
  // A typed DataFrame is still a DataFrame.
  const plain: DataFrame = people;
  void plain;
}

void typedColumns;
void sessions;
void dataframes;
void columns;
void client;
void value;
