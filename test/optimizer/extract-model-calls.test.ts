// extract_model_calls: model calls in select lists and filters become ApplyModel nodes (before/after plans).
import { describe, expect, it } from 'vitest';
import * as E from '../../core/expr/expr.ts';
import type { ModelRef } from '../../core/expr/model-ref.ts';
import { optimize } from '../../core/optimizer/optimize.ts';
import { planToString } from '../../core/plan/print.ts';
import type { LogicalPlan } from '../../core/plan/logical-plan.ts';
import { DataTypes } from '../../core/types/data-type.ts';
import { field, schema } from '../../core/types/schema.ts';

const scan: LogicalPlan = Object.freeze<LogicalPlan>({
  kind: 'scan',
  source: { format: 'parquet', paths: ['t.parquet'] },
  schema: schema([field('path', DataTypes.utf8, true), field('x', DataTypes.float64, true)]),
  projection: null,
  filters: [],
});
const model: ModelRef = { uri: '/models/classify', className: 'PipelineModel', bytes: 1000, device: 'auto' };
const classify = (arg: E.Expr) => E.modelCall('classify', model, ['features'], { name: 'prediction', type: DataTypes.float64, nullable: false }, [arg]);
const run = (p: LogicalPlan) => planToString(optimize(p, { rules: ['extract_model_calls'] }));

describe('extract_model_calls', () => {
  it('moves a call in a select list into an ApplyModel below the projection, keeping the output name', () => {
    const before: LogicalPlan = { kind: 'project', input: scan, exprs: [E.column('path'), classify(E.column('x')), E.alias(classify(E.column('x')), 'again')] };
    expect(planToString(before)).toBe(['Project [path, classify(x), classify(x) AS again]', '  Scan parquet:t.parquet [*]'].join('\n'));
    expect(run(before)).toBe(
      [
        'Project [path, __model0 AS classify(x), __model0 AS again]',
        '  ApplyModel PipelineModel /models/classify device=auto inputs=[x AS features] outputs=[prediction AS __model0]',
        '    Scan parquet:t.parquet [*]',
      ].join('\n'),
    );
  });

  it('computes a filter’s call below the filter and projects back to the input columns', () => {
    const before: LogicalPlan = { kind: 'filter', input: scan, condition: E.binary('=', classify(E.binary('*', E.column('x'), E.column('x'))), E.literal(1, DataTypes.float64)) };
    expect(run(before)).toBe(
      [
        'Project [path, x]',
        '  Filter (__model0 = 1)',
        '    ApplyModel PipelineModel /models/classify device=auto inputs=[(x * x) AS features] outputs=[prediction AS __model0]',
        '      Scan parquet:t.parquet [*]',
      ].join('\n'),
    );
  });

  it('chains nested calls and rejects calls where a model cannot run', () => {
    const nested: LogicalPlan = { kind: 'project', input: scan, exprs: [E.alias(classify(classify(E.column('x'))), 'twice')] };
    expect(run(nested)).toBe(
      [
        'Project [__model1 AS twice]',
        '  ApplyModel PipelineModel /models/classify device=auto inputs=[__model0 AS features] outputs=[prediction AS __model1]',
        '    ApplyModel PipelineModel /models/classify device=auto inputs=[x AS features] outputs=[prediction AS __model0]',
        '      Scan parquet:t.parquet [*]',
      ].join('\n'),
    );
    const grouped: LogicalPlan = { kind: 'aggregate', input: scan, groupBy: [classify(E.column('x'))], aggregates: [E.aggregate('count', [])] };
    expect(() => run(grouped)).toThrow(/model function classify\(\) can be used in a SELECT list or a WHERE clause only, not in GROUP BY/);
  });
});
