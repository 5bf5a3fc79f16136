import { describe, expect, it } from 'vitest';
import { DataTypes } from '../../core/types/data-type.ts';
import { AnalysisError } from '../../core/types/errors.ts';
import { field, schema } from '../../core/types/schema.ts';
import { aggregate, alias, binary, call, caseWhen, cast, column, inList, isNull, literal } from '../../core/expr/expr.ts';
import { aggregateResultType, commonType, nullableOf, toField, typeOf } from '../../core/expr/type-of.ts';

const s = schema([
  field('id', DataTypes.int64, false),
  field('n', DataTypes.int32),
  field('x', DataTypes.float64),
  field('price', DataTypes.decimal(12, 2)),
  field('qty', DataTypes.decimal(5, 1)),
  field('name', DataTypes.utf8),
  field('d', DataTypes.date32),
  field('t', DataTypes.timestamp),
  field('b', DataTypes.bool),
]);
const c = column;
const int = (v: number) => literal(v, DataTypes.int32);
const str = (v: string) => literal(v, DataTypes.utf8);

describe('typeOf', () => {
  it('resolves columns with a helpful error', () => {
    expect(typeOf(c('id'), s)).toEqual(DataTypes.int64);
    expect(() => typeOf(c('nme'), s)).toThrow(/column 'nme' does not exist.*Did you mean 'name'/);
  });

  it('coerces arithmetic like Spark/DuckDB', () => {
    expect(typeOf(binary('+', c('n'), c('id')), s)).toEqual(DataTypes.int64);
    expect(typeOf(binary('+', c('n'), c('n')), s)).toEqual(DataTypes.int32);
    expect(typeOf(binary('*', c('n'), c('x')), s)).toEqual(DataTypes.float64);
    expect(typeOf(binary('/', c('n'), c('n')), s)).toEqual(DataTypes.float64);
    expect(typeOf(binary('%', c('id'), c('n')), s)).toEqual(DataTypes.int64);
    expect(typeOf(binary('+', c('price'), c('qty')), s)).toEqual(DataTypes.decimal(13, 2));
    expect(typeOf(binary('*', c('price'), c('qty')), s)).toEqual(DataTypes.decimal(17, 3));
    expect(typeOf(binary('+', c('price'), c('n')), s)).toEqual(DataTypes.decimal(13, 2));
    expect(typeOf(binary('+', c('price'), c('x')), s)).toEqual(DataTypes.float64);
    expect(typeOf(binary('-', c('d'), c('d')), s)).toEqual(DataTypes.int64);
    expect(typeOf(binary('+', c('d'), int(3)), s)).toEqual(DataTypes.date32);
  });

  it('names the expression and the types in errors', () => {
    expect(() => typeOf(binary('>', c('name'), int(3)), s)).toThrow(AnalysisError);
    expect(() => typeOf(binary('>', c('name'), int(3)), s)).toThrow('cannot compare utf8 with int32 in (name > 3)');
    expect(() => typeOf(call('upper', [c('id')]), s)).toThrow('upper() expects a utf8 argument, got int64 in upper(id)');
    expect(() => typeOf(binary('+', c('name'), int(1)), s)).toThrow('cannot apply + to utf8 and int32 in (name + 1)');
    expect(() => typeOf(call('extract', [str('century'), c('d')]), s)).toThrow(/does not support 'century'/);
  });

  it('compares dates with string literals, and dates with timestamps', () => {
    expect(typeOf(binary('>', c('d'), str('2024-01-01')), s)).toEqual(DataTypes.bool);
    expect(() => typeOf(binary('>', c('d'), c('name')), s)).toThrow(/cannot compare date32 with utf8/);
    expect(commonType(DataTypes.date32, DataTypes.timestamp)).toEqual(DataTypes.timestamp);
  });

  it('types functions', () => {
    expect(typeOf(call('length', [c('name')]), s)).toEqual(DataTypes.int32);
    expect(typeOf(call('year', [c('t')]), s)).toEqual(DataTypes.int32);
    expect(typeOf(call('date_diff', [str('month'), c('d'), c('d')]), s)).toEqual(DataTypes.int64);
    expect(typeOf(call('extract', [str('epoch'), c('d')]), s)).toEqual(DataTypes.float64);
    expect(typeOf(call('round', [c('price'), int(1)]), s)).toEqual(DataTypes.decimal(12, 1));
    expect(typeOf(call('floor', [c('x')]), s)).toEqual(DataTypes.float64);
    expect(typeOf(call('coalesce', [c('n'), c('id')]), s)).toEqual(DataTypes.int64);
    expect(typeOf(caseWhen([{ when: c('b'), then: c('n') }], literal(null, DataTypes.null)), s)).toEqual(DataTypes.int32);
    expect(() => typeOf(call('substring', [c('name')]), s)).toThrow('substring() takes 2 to 3 arguments, got 1 in substring(name)');
  });

  it('types aggregates', () => {
    expect(aggregateResultType('sum', DataTypes.int32)).toEqual(DataTypes.int64);
    expect(aggregateResultType('sum', DataTypes.decimal(12, 2))).toEqual(DataTypes.decimal(18, 2));
    expect(aggregateResultType('avg', DataTypes.decimal(12, 2))).toEqual(DataTypes.float64);
    expect(aggregateResultType('max', DataTypes.utf8)).toEqual(DataTypes.utf8);
    expect(typeOf(aggregate('count', []), s)).toEqual(DataTypes.int64);
    expect(() => typeOf(aggregate('sum', [c('name')]), s)).toThrow(/sum\(\) expects a numeric argument, got utf8/);
  });

  it('tracks nullability and names', () => {
    expect(nullableOf(binary('+', c('id'), c('id')), s)).toBe(false);
    expect(nullableOf(binary('/', c('id'), c('id')), s)).toBe(true);
    expect(nullableOf(isNull(c('n')), s)).toBe(false);
    expect(nullableOf(inList(c('id'), [int(1), literal(null, DataTypes.null)]), s)).toBe(true);
    expect(toField(alias(binary('+', c('id'), int(1)), 'next'), s)).toEqual(field('next', DataTypes.int64, false));
    expect(toField(cast(c('n'), DataTypes.utf8), s).name).toBe('CAST(n AS utf8)');
  });
});
