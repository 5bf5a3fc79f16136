// pruneColumns: every node reads only the columns something above it uses, down to the scan's column list
// (so a Parquet scan decodes only those column chunks). Columns are matched by name, which is safe because
// the physical planner re-binds names after pruning, and conservative where a name appears on both sides.
import { type Expr, visit } from '../../expr/expr.ts';
import { type LogicalPlan, withInputs } from '../../plan/logical-plan.ts';
import { planSchema } from '../../plan/analyzer.ts';
import { outputName } from '../../expr/expr.ts';

type Required = ReadonlySet<string> | 'all';

function columnsOf(exprs: readonly Expr[], into: Set<string>): Set<string> {
  for (const e of exprs) {
    visit(e, (n) => {
      if (n.kind === 'column') into.add(n.name.toLowerCase());
    });
  }
  return into;
}

function union(a: Required, exprs: readonly Expr[], extra: readonly string[] = []): Required {
  if (a === 'all') return 'all';
  const out = columnsOf(exprs, new Set(a));
  for (const n of extra) out.add(n.toLowerCase());
  return out;
}

function prune(plan: LogicalPlan, required: Required): LogicalPlan {
  switch (plan.kind) {
    case 'scan': {
      if (required === 'all') return plan;
      const source = plan.projection ?? plan.schema.fields.map((f) => f.name);
      let keep = source.filter((n) => required.has(n.toLowerCase()));
      // count(*) needs rows but no values: read the first column only.
      if (keep.length === 0) keep = source.slice(0, 1);
      if (keep.length === source.length && plan.projection !== null) return plan;
      return Object.freeze({ ...plan, projection: Object.freeze(keep) });
    }
    case 'project': {
      const exprs = required === 'all' ? plan.exprs : plan.exprs.filter((e) => required.has(outputName(e).toLowerCase()));
      const kept = exprs.length === 0 ? plan.exprs.slice(0, 1) : exprs;
      const input = prune(plan.input, columnsOf(kept, new Set()));
      if (input === plan.input && kept.length === plan.exprs.length) return plan;
      return Object.freeze({ ...plan, input, exprs: Object.freeze([...kept]) });
    }
    case 'filter':
      return withInput(plan, prune(plan.input, union(required, [plan.condition])));
    case 'aggregate':
      return withInput(plan, prune(plan.input, columnsOf([...plan.groupBy, ...plan.aggregates], new Set())));
    case 'sort':
      return withInput(plan, prune(plan.input, union(required, plan.orders.map((o) => o.expr))));
    case 'limit':
    case 'alias':
      return withInput(plan, prune(plan.input, required));
    case 'repartition':
      return withInput(plan, prune(plan.input, union(required, plan.keys)));
    case 'window': {
      // Functions nothing above uses are dropped (a Window with none left is just its input).
      const kept = required === 'all' ? plan.functions : plan.functions.filter((f) => required.has(outputName(f).toLowerCase()));
      const need = union(required, kept);
      if (kept.length === 0) return prune(plan.input, need);
      const input = prune(plan.input, need);
      if (input === plan.input && kept.length === plan.functions.length) return plan;
      return Object.freeze({ ...plan, input, functions: Object.freeze([...kept]) });
    }
    case 'apply_model': {
      // Outputs nothing above uses are dropped; with none left the model does not run at all.
      const kept = required === 'all' ? plan.outputs : plan.outputs.filter((o) => required.has(o.as.toLowerCase()));
      const need = union(required, plan.inputs);
      if (kept.length === 0) return prune(plan.input, need);
      const input = prune(plan.input, need);
      if (input === plan.input && kept.length === plan.outputs.length) return plan;
      return Object.freeze({ ...plan, input, outputs: Object.freeze([...kept]) });
    }
    case 'distinct':
      // Distinctness depends on every column of the input.
      return withInput(plan, prune(plan.input, 'all'));
    case 'union':
      return withInputsIfChanged(plan, plan.inputs.map((i) => prune(i, 'all')));
    case 'join': {
      const need = union(required, plan.on ? [plan.on] : [], plan.using);
      return withInputsIfChanged(plan, [prune(plan.left, need), prune(plan.right, need)]);
    }
  }
}

function withInput(plan: LogicalPlan & { input: LogicalPlan }, input: LogicalPlan): LogicalPlan {
  return input === plan.input ? plan : withInputs(plan, [input]);
}

function withInputsIfChanged(plan: LogicalPlan, inputs: LogicalPlan[]): LogicalPlan {
  const old = plan.kind === 'join' ? [plan.left, plan.right] : plan.kind === 'union' ? plan.inputs : [];
  return inputs.every((p, i) => p === old[i]) ? plan : withInputs(plan, inputs);
}

export function pruneColumns(plan: LogicalPlan): LogicalPlan {
  const out = prune(plan, 'all');
  // Touch the schema so an inconsistent rewrite fails here, naming the rule, not deep in execution.
  planSchema(out);
  return out;
}
