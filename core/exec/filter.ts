// Filter: keeps the rows where a compiled predicate is TRUE, copying them into a dense batch.
import type * as arrow from 'apache-arrow';
import { takeBatch } from '../arrow/column.ts';
import { compilePredicate } from '../expr/compile.ts';
import { type Expr, exprToString } from '../expr/expr.ts';
import { type ExecContext, type PhysicalOperator, checkCancelled } from './operator.ts';

export class FilterExec implements PhysicalOperator {
  readonly name = 'Filter';
  readonly children: readonly PhysicalOperator[];
  private readonly predicate;

  constructor(
    readonly input: PhysicalOperator,
    readonly condition: Expr,
  ) {
    this.children = [input];
    this.predicate = compilePredicate(condition, input.schema);
  }

  get schema() {
    return this.input.schema;
  }

  describe(): string {
    return exprToString(this.condition);
  }

  async *execute(ctx: ExecContext): AsyncIterable<arrow.RecordBatch> {
    for await (const batch of this.input.execute(ctx)) {
      checkCancelled(ctx);
      const selected = this.predicate.select(batch);
      if (selected.length === 0) continue;
      yield selected.length === batch.numRows ? batch : takeBatch(batch, selected, false);
    }
  }
}
