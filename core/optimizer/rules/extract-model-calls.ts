// extractModelCalls: moves calls of registered models (`classify(features)` in a select list or a WHERE clause)
// out of expressions into ApplyModel plan nodes, as Spark's ExtractPythonUDFs moves Python UDFs into
// BatchEvalPython/ArrowEvalPython: a model runs over whole batches (on its own worker kind), not row by row
// inside a generated kernel.
//
//   Project [path, classify(x) AS c]            Project [path, __model0 AS c]
//     Scan t                            →         ApplyModel inputs=[x AS features] outputs=[prediction AS __model0]
//                                                   Scan t
//
// Calls of the same model over the same arguments share one ApplyModel. A filter's calls are computed below it
// and the filter is wrapped in a projection back to its input's columns. Model calls anywhere else (grouping,
// aggregates, join conditions, sort keys) are rejected, naming the function.
import { type Expr, alias, children, column, containsModelCall, exprToString, outputName, visit, withChildren } from '../../expr/expr.ts';
import { planSchema } from '../../plan/analyzer.ts';
import { type LogicalPlan, type ModelOutput, planInputs, transformPlanUp } from '../../plan/logical-plan.ts';
import { AnalysisError } from '../../types/errors.ts';
import type { Schema } from '../../types/schema.ts';

type ModelCall = Extract<Expr, { kind: 'model_call' }>;

interface Application {
  readonly call: ModelCall;
  readonly outputs: ModelOutput[];
}

/** Replaces the model calls in `exprs` by fresh columns and returns the ApplyModel nodes computing them over `input`. */
function extract(exprs: readonly Expr[], input: LogicalPlan): { exprs: Expr[]; input: LogicalPlan } {
  const schema = planSchema(input);
  const taken = new Set(schema.fields.map((f) => f.name.toLowerCase()));
  let counter = 0;
  const fresh = (): string => {
    let name: string;
    do name = `__model${counter++}`;
    while (taken.has(name));
    taken.add(name);
    return name;
  };
  const apps = new Map<string, Application>();
  const columnFor = (call: ModelCall): Expr => {
    // One application per model and arguments; several outputs of it share the run.
    const key = `${call.model.uri}|${JSON.stringify(call.args)}`;
    let app = apps.get(key);
    if (!app) {
      app = { call, outputs: [] };
      apps.set(key, app);
    }
    let out = app.outputs.find((o) => o.name === call.output.name);
    if (!out) {
      out = Object.freeze({ name: call.output.name, as: fresh(), type: call.output.type, nullable: call.output.nullable });
      app.outputs.push(out);
    }
    return column(out.as);
  };
  const replace = (e: Expr): Expr => {
    if (e.kind === 'model_call') {
      // Arguments may call models too: those run in an ApplyModel below this one.
      const args = e.args.map(replace);
      return columnFor(args.every((a, i) => a === e.args[i]) ? e : ({ ...e, args } as ModelCall));
    }
    const kids = children(e);
    if (kids.length === 0) return e;
    const next = kids.map(replace);
    return next.some((k, i) => k !== kids[i]) ? withChildren(e, next) : e;
  };
  const rewritten = exprs.map((e) => {
    const r = replace(e);
    // The output keeps its name (an unaliased call is still called `classify(x)`).
    return r === e ? e : alias(r.kind === 'alias' ? r.input : r, outputName(e));
  });
  // Applications whose arguments read other applications' outputs must come after them.
  let plan = input;
  const pending = [...apps.values()];
  const available = new Set(schema.fields.map((f) => f.name.toLowerCase()));
  while (pending.length) {
    const i = pending.findIndex((a) => a.call.args.every((arg) => readsOnly(arg, available)));
    const app = pending.splice(i < 0 ? 0 : i, 1)[0]!;
    plan = Object.freeze({
      kind: 'apply_model',
      input: plan,
      model: app.call.model,
      inputs: Object.freeze(app.call.args.map((a, j) => alias(a, app.call.inputs[j]!))),
      outputs: Object.freeze([...app.outputs]),
    });
    for (const o of app.outputs) available.add(o.as.toLowerCase());
  }
  return { exprs: rewritten, input: plan };
}

function readsOnly(e: Expr, names: ReadonlySet<string>): boolean {
  let ok = true;
  visit(e, (n) => {
    if (n.kind === 'column' && n.qualifier === undefined && n.name.startsWith('__model') && !names.has(n.name.toLowerCase())) ok = false;
    return ok;
  });
  return ok;
}

function reject(exprs: readonly Expr[], where: string): void {
  for (const e of exprs) {
    let found: ModelCall | null = null;
    visit(e, (n) => {
      if (n.kind === 'model_call') found = n;
      return found === null;
    });
    if (found) {
      const call = found as ModelCall;
      throw new AnalysisError(
        `model function ${call.name}() can be used in a SELECT list or a WHERE clause only, not in ${where} (${exprToString(e)}); compute it in a subquery first and use its column here`,
      );
    }
  }
}

function passThrough(schema: Schema): Expr[] {
  return schema.fields.map((f) => column(f.name, f.qualifier));
}

function extractNode(p: LogicalPlan): LogicalPlan {
  switch (p.kind) {
    case 'project': {
      if (!p.exprs.some(containsModelCall)) return p;
      const { exprs, input } = extract(p.exprs, p.input);
      return Object.freeze({ kind: 'project', input, exprs: Object.freeze(exprs) });
    }
    case 'filter': {
      if (!containsModelCall(p.condition)) return p;
      const { exprs, input } = extract([p.condition], p.input);
      const filtered: LogicalPlan = Object.freeze({ kind: 'filter', input, condition: exprs[0]!.kind === 'alias' ? exprs[0]!.input : exprs[0]! });
      // Back to the filter's own columns: the model's output was only needed for the condition.
      return Object.freeze({ kind: 'project', input: filtered, exprs: Object.freeze(passThrough(planSchema(p.input))) });
    }
    case 'aggregate':
      reject(p.groupBy, 'GROUP BY');
      reject(p.aggregates, 'an aggregation');
      return p;
    case 'join':
      if (p.on) reject([p.on], 'a join condition');
      return p;
    case 'sort':
      reject(p.orders.map((o) => o.expr), 'ORDER BY');
      return p;
    case 'window':
      reject(p.functions, 'a window function');
      return p;
    case 'repartition':
      reject(p.keys, 'repartition keys');
      return p;
    case 'apply_model':
      reject(p.inputs, 'the inputs of another model step');
      return p;
    case 'scan':
      reject(p.filters, 'a scan filter');
      return p;
    case 'limit':
    case 'distinct':
    case 'union':
    case 'alias':
      return p;
  }
}

export function extractModelCalls(plan: LogicalPlan): LogicalPlan {
  // Cheap check first: most plans call no model.
  let any = false;
  const look = (p: LogicalPlan): void => {
    if (any) return;
    if (p.kind === 'project' && p.exprs.some(containsModelCall)) any = true;
    else if (p.kind === 'filter' && containsModelCall(p.condition)) any = true;
    else if (p.kind === 'aggregate' && [...p.groupBy, ...p.aggregates].some(containsModelCall)) any = true;
    else if (p.kind === 'sort' && p.orders.some((o) => containsModelCall(o.expr))) any = true;
    else if (p.kind === 'join' && p.on && containsModelCall(p.on)) any = true;
    else if (p.kind === 'window' && p.functions.some(containsModelCall)) any = true;
    planInputs(p).forEach(look);
  };
  look(plan);
  return any ? transformPlanUp(plan, extractNode) : plan;
}
