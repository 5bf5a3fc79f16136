// The DataFrame API itself: laziness, validation when a DataFrame is built, Spark-compatible naming and output.
import { mkdtempSync, readdirSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as arrow from 'apache-arrow';
import { afterAll, describe, expect, it } from 'vitest';
import { AnalysisError, DataError, Session, col, functions as F, lit } from '../../core/sdk/index.ts';

const session = Session.local();
const people = session.createDataFrame([
  { name: 'Ada', age: 36, city: 'London', score: 9.5 },
  { name: 'Grace', age: 45, city: 'New York', score: 8.25 },
  { name: 'Linus', age: null, city: 'Helsinki', score: 7 },
  { name: 'Barbara', age: 30, city: 'New York', score: null },
]);
const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'squall-sdk-'));
  dirs.push(d);
  return d;
};
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('schema and validation', () => {
  it('infers Spark-like types from rows', () => {
    expect(people.schema.fields.map((f) => [f.name, f.type.kind])).toEqual([
      ['name', 'utf8'],
      ['age', 'int64'],
      ['city', 'utf8'],
      ['score', 'float64'],
    ]);
  });

  it('a missing column fails when the DataFrame is built, listing columns and the closest name', () => {
    // @ts-expect-error a misspelt name is a compile error as well as this run-time error
    expect(() => people.select('nmae')).toThrow(AnalysisError);
    // @ts-expect-error a misspelt name is a compile error as well as this run-time error
    expect(() => people.select('nmae')).toThrow(/column 'nmae' does not exist\. Available columns: name, age, city, score\. Did you mean 'name'\?/);
    expect(() => people.filter(col('agee').gt(3))).toThrow(/Did you mean 'age'/);
    // @ts-expect-error a misspelt name is a compile error as well as this run-time error
    expect(() => people.groupBy('cty')).not.toThrow(); // grouping keys are checked by agg()
    // @ts-expect-error a misspelt name is a compile error as well as this run-time error
    expect(() => people.groupBy('cty').agg(F.count())).toThrow(/'cty' does not exist.*Did you mean 'city'/);
  });

  it('type errors name the expression', () => {
    expect(() => people.filter(col('name').plus(1))).toThrow(AnalysisError);
    expect(() => people.filter(col('age'))).toThrow(/filter condition must be boolean/);
  });

  it('non-grouped columns in agg are rejected', () => {
    expect(() => people.groupBy('city').agg(F.sum('age'), col('name'))).toThrow(AnalysisError);
  });

  it('transformations are lazy: nothing runs until an action', async () => {
    const dir = tempDir();
    await session.createDataFrame([{ a: 1 }]).write.parquet(join(dir, 't'));
    const df = await session.read.parquet(join(dir, 't'));
    rmSync(join(dir, 't'), { recursive: true });
    // Building more plan on a deleted input still succeeds; only the action fails, naming the file.
    const next = df.filter(col('a').gt(0)).select('a');
    await expect(next.collect()).rejects.toThrow(/part-|t\//);
  });
});

describe('transformations', () => {
  it('select, withColumn, withColumnRenamed, drop', async () => {
    const df = people
      .withColumn('older', col('age').plus(10))
      .withColumnRenamed('name', 'who')
      .drop('city', 'score')
      .filter(col('older').isNotNull())
      .orderBy(col('who'));
    expect(df.columns).toEqual(['who', 'age', 'older']);
    expect(await df.collect()).toEqual([
      { who: 'Ada', age: 36, older: 46 },
      { who: 'Barbara', age: 30, older: 40 },
      { who: 'Grace', age: 45, older: 55 },
    ]);
  });

  it('withColumn replaces a column in place', async () => {
    const df = people.withColumn('age', col('age').multiply(2)).select('name', 'age').orderBy('name');
    expect((await df.collect()).map((r) => r['age'])).toEqual([72, 60, 90, null]);
  });

  it('groupBy().agg() puts keys first and names aggregates like Spark', async () => {
    const df = people.groupBy('city').agg(F.count(), F.avg('score'), F.max(col('age')).alias('oldest')).orderBy('city');
    expect(df.columns).toEqual(['city', 'count(1)', 'avg(score)', 'oldest']);
    expect(await df.collect()).toEqual([
      { city: 'Helsinki', 'count(1)': 1, 'avg(score)': 7, oldest: null },
      { city: 'London', 'count(1)': 1, 'avg(score)': 9.5, oldest: 36 },
      { city: 'New York', 'count(1)': 2, 'avg(score)': 8.25, oldest: 45 },
    ]);
  });

  it('select with an aggregate is a global aggregate', async () => {
    expect(await people.select(F.sum('age').alias('total'), F.count('age').alias('n')).collect()).toEqual([{ total: 111, n: 3 }]);
  });

  it('self-join through aliases', async () => {
    const a = people.alias('a');
    const b = people.alias('b');
    const df = a
      .join(b, col('a.city').eq(col('b.city')).and(col('a.name').lt(col('b.name'))))
      .select(col('a.name').alias('x'), col('b.name').alias('y'));
    expect(await df.collect()).toEqual([{ x: 'Barbara', y: 'Grace' }]);
  });

  it('df.col() names one DataFrame\'s column through joins; a bare ambiguous name asks for it', async () => {
    const other = session.createDataFrame([{ name: 'Ada', lang: 'Analytical Engine' }, { name: 'Linus', lang: 'C' }]);
    const joined = people.join(other, people.col('name').eq(other.col('name')), 'left');
    expect(() => joined.select('name')).toThrow(/ambiguous/);
    const rows = await joined.select(people.col('name'), other.col('name').alias('other'), 'lang').orderBy(people.col('name')).collect();
    expect(rows).toEqual([
      { name: 'Ada', other: 'Ada', lang: 'Analytical Engine' },
      { name: 'Barbara', other: null, lang: null },
      { name: 'Grace', other: null, lang: null },
      { name: 'Linus', other: 'Linus', lang: 'C' },
    ]);
    expect(() => people.join(other, 'name', 'sideways')).toThrow(/unknown join type 'sideways'/);
    expect(() => people.select(other.col('lang'))).toThrow(/not an input/);
  });

  it('limit, offset, distinct, union', async () => {
    expect(await people.select('city').distinct().count()).toBe(3);
    expect(await people.union(people).count()).toBe(8);
    expect((await people.orderBy(col('score').desc()).limit(2).collect()).map((r) => r['name'])).toEqual(['Ada', 'Grace']);
    expect((await people.orderBy('name').offset(3).collect()).map((r) => r['name'])).toEqual(['Linus']);
    expect(() => people.union(people.select('name'))).toThrow(/union: input 2 has 1 columns but the first has 4/);
  });
});

describe('actions and output', () => {
  it('show prints a Spark-style table', async () => {
    const text = await people.select('name', 'age', 'score').orderBy('name').showString(3);
    expect(text).toBe(
      [
        '+-------+---+-----+',
        '|   name|age|score|',
        '+-------+---+-----+',
        '|    Ada| 36|  9.5|',
        '|Barbara| 30| NULL|',
        '|  Grace| 45| 8.25|',
        '+-------+---+-----+',
        'only showing top 3 rows',
      ].join('\n'),
    );
  });

  it('toArrow returns an Arrow table with the DataFrame schema', async () => {
    const t = await people.select('name', 'age').toArrow();
    expect(t).toBeInstanceOf(arrow.Table);
    expect(t.numRows).toBe(4);
    expect(String(t.schema.fields[1]!.type)).toBe('Int64');
  });

  it('createDataFrame from an Arrow table', async () => {
    const t = arrow.tableFromArrays({ a: new Float32Array([1.5, 2.5]), b: ['x', 'y'] });
    const df = session.createDataFrame(t);
    expect(df.schema.fields.map((f) => f.type.kind)).toEqual(['float64', 'utf8']);
    expect(await df.agg(F.sum('a').alias('s')).collect()).toEqual([{ s: 4 }]);
  });

  it('explain shows the physical plan with pruned scan columns', async () => {
    const dir = tempDir();
    await people.write.parquet(join(dir, 'people'));
    const df = (await session.read.parquet(join(dir, 'people'))).filter(col('age').gt(30)).select('name');
    const text = await df.explainString();
    for (const section of ['== Parsed Logical Plan ==', '== Optimized Logical Plan ==', '== Physical Plan ==', '== Stages ==']) {
      expect(text).toContain(section);
    }
    expect(text).toMatch(/ParquetScan .*\[name, age\]/);
    expect(text).toMatch(/Stage 0 \(lambda, 1 task\)/);
    expect(await df.explainString('simple')).not.toContain('== Stages ==');
  });

  it('write modes: error, overwrite, append, ignore — and reads back', async () => {
    const dir = tempDir();
    const path = join(dir, 'out');
    await people.write.parquet(path);
    await expect(people.write.parquet(path)).rejects.toThrow(DataError);
    await people.write.mode('append').parquet(path);
    expect(await (await session.read.parquet(path)).count()).toBe(8);
    await people.limit(1).write.mode('overwrite').parquet(path);
    expect(await (await session.read.parquet(path)).count()).toBe(1);
    await people.write.mode('ignore').parquet(path);
    expect(await (await session.read.parquet(path)).count()).toBe(1);
    expect(readdirSync(path).some((f) => f === '_SUCCESS')).toBe(true);
    await people.write.csv(join(dir, 'csv'));
    const back = await session.read.option('header', true).csv(join(dir, 'csv'));
    expect(await back.orderBy('name').select('name', 'age').collect()).toEqual(
      (await people.orderBy('name').select('name', 'age').collect()),
    );
  });

  it('a failing job leaves no output behind', async () => {
    const dir = tempDir();
    const bad = session.createDataFrame([{ s: '12' }, { s: 'twelve' }]).select(col('s').cast('int').alias('n'));
    await expect(bad.write.parquet(join(dir, 'never'))).rejects.toThrow(/twelve/);
    expect(existsSync(join(dir, 'never'))).toBe(false);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('createDataFrame takes ISO dates/timestamps and exact decimal strings for typed columns', async () => {
    const df = session.createDataFrame(
      [{ d: '2024-02-29', ts: '2024-01-05 10:11:12.250', x: '12345678901234.5678', n: '9007199254740993' }],
      { d: 'date', ts: 'timestamp', x: 'decimal(18,4)', n: 'bigint' },
    );
    const t = await df.toArrow();
    expect(t.getChildAt(0)!.get(0)).toBe(Date.UTC(2024, 1, 29));
    expect((t.getChildAt(1)!.data[0]!.values as BigInt64Array)[0]).toBe(BigInt(Date.UTC(2024, 0, 5, 10, 11, 12)) * 1000n + 250_000n);
    expect(String(t.getChildAt(2)!.get(0))).toBe('123456789012345678');
    expect(t.getChildAt(3)!.get(0)).toBe(9007199254740993n);
    expect(() => session.createDataFrame([{ d: '2023-02-29' }], { d: 'date' })).toThrow(/row 1, column 'd': value "2023-02-29" is not a valid date32/);
  });

  it('literals and casts', async () => {
    const row = (await people.limit(1).select(lit(1).alias('i'), lit(2 ** 40).alias('l'), lit('x').alias('s'), lit(1.5).cast('decimal(4,1)').alias('d')).collect())[0]!;
    expect(row).toEqual({ i: 1, l: 2 ** 40, s: 'x', d: 1.5 });
  });
});
