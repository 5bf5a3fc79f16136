// Project: evaluates a list of compiled expressions per batch.
import type * as arrow from 'apache-arrow';
import { compileProjection } from '../expr/compile.ts';
import { type Expr, exprToString } from '../expr/expr.ts';
import type { Schema } from '../types/schema.ts';
import { type ExecContext, type PhysicalOperator, checkCancelled } from './operator.ts';

export class ProjectExec implements PhysicalOperator {
  readonly name = 'Project';
  readonly children: readonly PhysicalOperator[];
  readonly schema: Schema;
  private readonly projection;

  constructor(
    readonly input: PhysicalOperator,
    readonly exprs: readonly Expr[],
  ) {
    this.children = [input];
    this.projection = compileProjection(exprs, input.schema);
    this.schema = this.projection.schema;
  }

  describe(): string {
    return `[${this.exprs.map(exprToString).join(', ')}]`;
  }

  async *execute(ctx: ExecContext): AsyncIterable<arrow.RecordBatch> {
    for await (const batch of this.input.execute(ctx)) {
      checkCancelled(ctx);
      yield this.projection.project(batch);
    }
  }
}
