// UNION ALL: the inputs' batches one input after another. The planner aligns the inputs' schemas (same types in
// the same order); names come from the first input and a column is nullable if it is in any input.
import type * as arrow from 'apache-arrow';
import { columnData } from '../arrow/column.ts';
import { typeEquals, typeToString } from '../types/data-type.ts';
import { ExecutionError } from '../types/errors.ts';
import { type Schema, field, schema } from '../types/schema.ts';
import { outputBatch } from './batch-utils.ts';
import { type ExecContext, type PhysicalOperator, checkCancelled } from './operator.ts';

export class UnionExec implements PhysicalOperator {
  readonly name = 'Union';
  readonly children: readonly PhysicalOperator[];
  readonly schema: Schema;

  constructor(readonly inputs: readonly PhysicalOperator[]) {
    if (inputs.length === 0) throw new ExecutionError('Union needs at least one input');
    const first = inputs[0]!.schema.fields;
    inputs.forEach((op, k) => {
      const fs = op.schema.fields;
      if (fs.length !== first.length) {
        throw new ExecutionError(`Union input ${k} has ${fs.length} columns, input 0 has ${first.length}`);
      }
      fs.forEach((f, i) => {
        if (!typeEquals(f.type, first[i]!.type)) {
          throw new ExecutionError(
            `Union input ${k} column ${i} ('${f.name}') is ${typeToString(f.type)}, input 0 has ${typeToString(first[i]!.type)}`,
          );
        }
      });
    });
    this.children = inputs;
    this.schema = schema(first.map((f, i) => field(f.name, f.type, inputs.some((op) => op.schema.fields[i]!.nullable))));
  }

  describe(): string {
    return `inputs=${this.inputs.length}`;
  }

  async *execute(ctx: ExecContext): AsyncIterable<arrow.RecordBatch> {
    for (const op of this.inputs) {
      for await (const batch of op.execute(ctx)) {
        checkCancelled(ctx);
        const cols = this.schema.fields.map((_, i) => columnData(batch, i));
        yield outputBatch(this.schema, cols, batch.numRows);
      }
    }
  }
}
