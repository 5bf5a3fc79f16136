// Builds the operator tree that runs a physical plan in this process. Exchanges are identities here: one
// process sees all partitions, so a distributed plan (partial/final aggregates, broadcast joins) also runs
// correctly in-process, which is how its semantics are tested without a cluster.
import type * as arrow from 'apache-arrow';
import { compilePredicate } from '../expr/compile.ts';
import { typeEquals, typeToString } from '../types/data-type.ts';
import { ExecutionError } from '../types/errors.ts';
import { type Schema, schema as makeSchema } from '../types/schema.ts';
import type { PhysicalOperator } from '../exec/operator.ts';
import type { FileSplit } from '../io/file-split.ts';
import { FilterExec } from '../exec/filter.ts';
import { ProjectExec } from '../exec/project.ts';
import { FileScanExec } from '../exec/scan.ts';
import { MemoryScanExec } from '../exec/memory-scan.ts';
import { HashAggregateExec } from '../exec/hash-aggregate.ts';
import { HashJoinExec } from '../exec/hash-join.ts';
import { SortExec } from '../exec/sort.ts';
import { LimitExec } from '../exec/limit.ts';
import { UnionExec } from '../exec/union.ts';
import { WindowExec } from '../exec/window.ts';
import { ApplyModelExec, type ModelHost, processModelHost } from '../exec/apply-model.ts';
import { type PhysicalPlan, physicalSchema } from './physical-plan.ts';

export interface InstantiateContext {
  /** Batches of an in-memory table registered with the session. */
  memoryTable(id: string): { readonly schema: Schema; readonly batches: readonly arrow.RecordBatch[] };
  /** Operators for a stage's input (set by executors; absent in-process, where plans have no stage inputs). */
  stageInput?(p: Extract<PhysicalPlan, { kind: 'stage_input' }>): PhysicalOperator;
  /** Operators for an RDD stage over its inputs (set by executors: core/rdd runs it; RDD stages never run in-process). */
  rddStage?(p: Extract<PhysicalPlan, { kind: 'rdd' }>, inputs: readonly PhysicalOperator[]): PhysicalOperator;
  /** Where ApplyModel nodes load models and report (executors and inference workers pass one per task). */
  readonly models?: ModelHost;
  /** The file splits this task reads; absent: scans read all their files. */
  readonly fileSplits?: readonly FileSplit[];
}

export function instantiate(p: PhysicalPlan, ctx: InstantiateContext): PhysicalOperator {
  const op = build(p, ctx);
  checkSchema(p, op);
  return op;
}

/**
 * An aggregation folds each batch into its own state before asking for the next and keeps no reference to it,
 * and filters and projections pass that on: a file scan reached through only those may reuse its buffers.
 */
function markConsumedInPlace(op: PhysicalOperator): void {
  if (op instanceof FileScanExec) op.consumedInPlace = true;
  else if (op instanceof FilterExec || op instanceof ProjectExec) markConsumedInPlace(op.children[0]!);
}

function build(p: PhysicalPlan, ctx: InstantiateContext): PhysicalOperator {
  const child = (c: PhysicalPlan) => instantiate(c, ctx);
  switch (p.kind) {
    case 'file_scan':
      return new FileScanExec(p.source, p.fileSchema, p.projection, p.filters, ctx.fileSplits ?? null);
    case 'memory_scan':
      return new MemoryScanExec(p.schema, [...ctx.memoryTable(p.id).batches]);
    case 'stage_input':
      if (!ctx.stageInput) throw new ExecutionError(`stage input ${p.stage} cannot run in-process`);
      return ctx.stageInput(p);
    case 'project':
      return new ProjectExec(child(p.input), p.exprs);
    case 'filter':
      return new FilterExec(child(p.input), p.condition);
    case 'hash_aggregate': {
      const input = child(p.input);
      if (p.mode !== 'final') markConsumedInPlace(input);
      return new HashAggregateExec(input, [...p.groupKeys], [...p.aggregates], p.mode);
    }
    case 'hash_join': {
      const left = child(p.left);
      const right = child(p.right);
      const combined = makeSchema([...left.schema.fields, ...right.schema.fields]);
      return new HashJoinExec(left, right, {
        joinType: p.joinType,
        leftKeys: p.leftKeys,
        rightKeys: p.rightKeys,
        residual: p.residual ? compilePredicate(p.residual, combined) : undefined,
        buildSide: p.buildSide,
      });
    }
    case 'sort':
      return new SortExec(child(p.input), p.keys, p.limit);
    case 'limit':
      return new LimitExec(child(p.input), p.limit, p.offset);
    case 'union':
      return new UnionExec(p.inputs.map(child));
    case 'window':
      return new WindowExec(child(p.input), [...p.partitionKeys], [...p.orderKeys], [...p.functions]);
    case 'exchange':
      return child(p.input);
    case 'apply_model':
      // Without a host (in-process runs) models come from the process-wide cache and report nowhere.
      return new ApplyModelExec(child(p.input), p.model, p.inputs, p.outputs, ctx.models ?? processModelHost());
    case 'rdd':
      if (!ctx.rddStage) throw new ExecutionError('an RDD stage runs on executors only (in-process RDDs run in core/rdd/runner.ts)');
      return ctx.rddStage(p, p.inputs.map(child));
  }
}

/** The planner's idea of a node's schema and the operator's must agree; a mismatch is a planner bug. */
function checkSchema(p: PhysicalPlan, op: PhysicalOperator): void {
  const want = physicalSchema(p).fields;
  const got = op.schema.fields;
  const same = want.length === got.length && want.every((f, i) => f.name === got[i]!.name && typeEquals(f.type, got[i]!.type));
  if (!same) {
    const show = (fs: Schema['fields']) => fs.map((f) => `${f.name}: ${typeToString(f.type)}`).join(', ');
    throw new ExecutionError(`internal: ${p.kind} plans [${show(want)}] but its operator produces [${show(got)}]`);
  }
}
