// CSV and NDJSON readers: schema inference, values compared with DuckDB's reading of the same files, RFC 4180
// quoting across read chunks, and error messages that name file, line, column and value.
import * as fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_CSV_OPTIONS, inferCsvSchema, scanCsv } from '../../core/io/csv-reader.ts';
import { inferJsonSchema, scanJson } from '../../core/io/json-reader.ts';
import { DataTypes } from '../../core/types/data-type.ts';
import { DataError } from '../../core/types/errors.ts';
import { field, schema as makeSchema, schemaToString } from '../../core/types/schema.ts';
import { batchRows, canonicalSelect, collect, duck, duckRows, normalizeDuckRows, tempDir } from './helpers.ts';

let dir: string;
let db: Awaited<ReturnType<typeof duck>>;

beforeAll(async () => {
  dir = tempDir();
  db = await duck();
});

afterAll(() => {
  db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const GEN = `
SELECT i AS id,
  CASE WHEN i % 5 = 0 THEN NULL ELSE i::BIGINT * 3000000007 END AS big,
  CASE WHEN i % 6 = 0 THEN NULL ELSE i / 4.0 - 7 END AS price,
  DATE '1969-06-01' + (i % 900)::INTEGER AS day,
  TIMESTAMP '2021-03-04 05:06:07' + INTERVAL (i * 1001) MILLISECOND AS ts,
  i % 2 = 0 AS flag,
  CASE WHEN i % 7 = 0 THEN NULL WHEN i % 7 = 1 THEN 'a "quoted", multi' || chr(10) || 'line value ' || i ELSE 'plain_' || (i % 13) END AS txt
FROM range(1, 60001) t(i)`;

describe('CSV', () => {
  it('infers types and reads every value as DuckDB does, across read chunks', async () => {
    const f = `${dir}/gen.csv`;
    await db.c.run(`COPY (${GEN}) TO '${f}' (HEADER, NULLSTR '')`);
    expect(fs.statSync(f).size).toBeGreaterThan(4 << 20); // more than one 4 MB read chunk
    const schema = await inferCsvSchema([f], DEFAULT_CSV_OPTIONS, 100000);
    expect(schemaToString(schema)).toBe(
      ['root', ' |-- id: int32 (nullable = true)', ' |-- big: int64 (nullable = true)', ' |-- price: float64 (nullable = true)', ' |-- day: date32 (nullable = true)', ' |-- ts: timestamp (nullable = true)', ' |-- flag: bool (nullable = true)', ' |-- txt: utf8 (nullable = true)'].join('\n'),
    );
    const batches = await collect(scanCsv([f], schema, DEFAULT_CSV_OPTIONS, null, 10000));
    const got = batchRows(batches, schema);
    const want = normalizeDuckRows(await duckRows(db.c, `SELECT ${canonicalSelect(schema)} FROM (${GEN})`), schema);
    expect(got.length).toBe(60000);
    expect(got).toEqual(want);
    // Projection reads only the named columns, in the given order.
    const proj = await collect(scanCsv([f], schema, DEFAULT_CSV_OPTIONS, ['txt', 'id']));
    const projSchema = makeSchema([schema.fields[6]!, schema.fields[0]!]);
    expect(batchRows(proj, projSchema)).toEqual(want.map((r) => ({ txt: r.txt, id: r.id })));
  });

  it('widens int32 → int64 → float64 and date → timestamp, and falls back to utf8', async () => {
    const f = `${dir}/widen.csv`;
    fs.writeFileSync(f, 'a,b,c,d,e,f\n1,1,2020-01-01,true,x,\n2147483648,1.5,2020-01-02 10:00:00,false,1,\n');
    const s = await inferCsvSchema([f], DEFAULT_CSV_OPTIONS);
    expect(s.fields.map((x) => x.type.kind)).toEqual(['int64', 'float64', 'timestamp', 'bool', 'utf8', 'utf8']);
  });

  it('follows RFC 4180: CRLF, doubled quotes, quoted delimiters; empty unquoted and nullValue are NULL', async () => {
    const f = `${dir}/rfc.csv`;
    fs.writeFileSync(f, 'id;name;n\r\n1;"semi;colon ""q""";NA\r\n2;;5\r\n3;"";\r\n\r\n4;NA;"7"\r\n');
    const opts = { ...DEFAULT_CSV_OPTIONS, delimiter: ';', nullValue: 'NA' };
    const s = await inferCsvSchema([f], opts);
    expect(s.fields.map((x) => [x.name, x.type.kind])).toEqual([['id', 'int32'], ['name', 'utf8'], ['n', 'int32']]);
    const rows = batchRows(await collect(scanCsv([f], s, opts)), s);
    expect(rows).toEqual([
      { id: 1, name: 'semi;colon "q"', n: null },
      { id: 2, name: null, n: 5 },
      { id: 3, name: '', n: null },
      { id: 4, name: null, n: 7 },
    ]);
  });

  it('names columns _c0… without a header', async () => {
    const f = `${dir}/nohead.csv`;
    fs.writeFileSync(f, '1,x\n2,y\n');
    const opts = { ...DEFAULT_CSV_OPTIONS, header: false };
    const s = await inferCsvSchema([f], opts);
    expect(s.fields.map((x) => x.name)).toEqual(['_c0', '_c1']);
    expect(batchRows(await collect(scanCsv([f], s, opts)), s)).toEqual([{ _c0: 1, _c1: 'x' }, { _c0: 2, _c1: 'y' }]);
  });

  it('reports a row with the wrong number of fields by file and line (counting lines inside quotes)', async () => {
    const f = `${dir}/bad-row.csv`;
    fs.writeFileSync(f, 'a,b,c,d,e\n1,2,3,4,5\n1,"two\nlines",3,4,5\n1,2,3,4\n');
    const s = makeSchema(['a', 'b', 'c', 'd', 'e'].map((n) => field(n, DataTypes.utf8)));
    const err = await collect(scanCsv([f], s, DEFAULT_CSV_OPTIONS)).catch((e) => e);
    expect(err).toBeInstanceOf(DataError);
    expect(err.message).toBe(`file ${f}, line 5: expected 5 fields, found 4`);
  });

  it('reports a value that does not parse by file, line, column and value', async () => {
    const f = `${dir}/bad-value.csv`;
    fs.writeFileSync(f, 'id,price\n1,2.5\n2,abc\n');
    const s = makeSchema([field('id', DataTypes.int32), field('price', DataTypes.float64)]);
    const err = await collect(scanCsv([f], s, DEFAULT_CSV_OPTIONS)).catch((e) => e);
    expect(err).toBeInstanceOf(DataError);
    expect(err.message).toBe(`file ${f}, line 3, column 'price': cannot parse 'abc' as float64`);
  });

  it('reports an unterminated quote', async () => {
    const f = `${dir}/unterminated.csv`;
    fs.writeFileSync(f, 'a,b\n1,"open\n2,3\n');
    const s = makeSchema([field('a', DataTypes.int32), field('b', DataTypes.utf8)]);
    const err = await collect(scanCsv([f], s, DEFAULT_CSV_OPTIONS)).catch((e) => e);
    expect(err).toBeInstanceOf(DataError);
    expect(err.message).toContain(`file ${f}, line 2: unterminated quoted field`);
  });
});

describe('NDJSON', () => {
  it('infers a schema and reads values as DuckDB does', async () => {
    const f = `${dir}/gen.json`;
    await db.c.run(`COPY (${GEN}) TO '${f}' (FORMAT json)`);
    const schema = await inferJsonSchema([f], 5000);
    expect(schema.fields.map((x) => [x.name, x.type.kind])).toEqual([
      ['id', 'int32'], ['big', 'int64'], ['price', 'float64'], ['day', 'date32'], ['ts', 'timestamp'], ['flag', 'bool'], ['txt', 'utf8'],
    ]);
    const got = batchRows(await collect(scanJson([f], schema, null, 7000)), schema);
    const want = normalizeDuckRows(await duckRows(db.c, `SELECT ${canonicalSelect(schema)} FROM (${GEN})`), schema);
    expect(got).toEqual(want);
  });

  it('reads missing keys as NULL, nested values as JSON text, number arrays as vectors', async () => {
    const f = `${dir}/mixed.json`;
    fs.writeFileSync(f, '{"a":1,"o":{"x":[1,2]},"v":[0.5,1]}\n\n{"b":"s","v":[2,3],"o":null}\r\n');
    const s = await inferJsonSchema([f]);
    expect(schemaToString(s)).toBe(['root', ' |-- a: int32 (nullable = true)', ' |-- o: utf8 (nullable = true)', ' |-- v: vector<float32>[2] (nullable = true)', ' |-- b: utf8 (nullable = true)'].join('\n'));
    expect(batchRows(await collect(scanJson([f], s)), s)).toEqual([
      { a: 1, o: '{"x":[1,2]}', v: [0.5, 1], b: null },
      { a: null, o: null, v: [2, 3], b: 's' },
    ]);
  });

  it('reports invalid JSON and wrongly typed values by file and line', async () => {
    const f = `${dir}/bad.json`;
    fs.writeFileSync(f, '{"id": 1}\n{"id": 2,}\n');
    const s = makeSchema([field('id', DataTypes.int64)]);
    const err = await collect(scanJson([f], s)).catch((e) => e);
    expect(err).toBeInstanceOf(DataError);
    expect(err.message).toMatch(new RegExp(`^file ${f}, line 2: invalid JSON`));
    const g = `${dir}/bad-type.json`;
    fs.writeFileSync(g, '{"id": 1}\n\n{"id": "x1"}\n');
    const err2 = await collect(scanJson([g], s)).catch((e) => e);
    expect(err2.message).toBe(`file ${g}, line 3, column 'id': cannot read 'x1' as int64`);
    const h = `${dir}/not-object.json`;
    fs.writeFileSync(h, '[1,2]\n');
    const err3 = await collect(scanJson([h], s)).catch((e) => e);
    expect(err3.message).toBe(`file ${h}, line 1: expected a JSON object, found [1,2]`);
  });
});
