// Logical plans as indented text: what explain() prints and what optimizer rule tests compare.
import { type Expr, FRAME_TEXT, exprToString, sortOrderToString } from '../expr/expr.ts';
import { type LogicalPlan, planInputs } from './logical-plan.ts';

function describe(p: LogicalPlan): string {
  switch (p.kind) {
    case 'scan': {
      const src = p.source.format === 'memory' ? `memory:${p.source.id}` : `${p.source.format}:${p.source.paths.join(',')}`;
      const cols = p.projection === null ? '*' : p.projection.join(', ');
      const filters = p.filters.length ? ` filters=[${p.filters.map(exprToString).join(', ')}]` : '';
      return `Scan ${src}${p.alias ? ` AS ${p.alias}` : ''} [${cols}]${filters}`;
    }
    case 'project':
      return `Project [${p.exprs.map(exprToString).join(', ')}]`;
    case 'filter':
      return `Filter ${exprToString(p.condition)}`;
    case 'aggregate':
      return `Aggregate groupBy=[${p.groupBy.map(exprToString).join(', ')}] [${p.aggregates.map(exprToString).join(', ')}]`;
    case 'join': {
      const cond = p.on ? ` on ${exprToString(p.on)}` : '';
      const using = p.using.length ? ` using [${p.using.join(', ')}]` : '';
      return `Join ${p.joinType}${using}${cond}${p.strategy ? ` strategy=${p.strategy}` : ''}`;
    }
    case 'sort':
      return `Sort [${p.orders
        .map((o) => `${exprToString(o.expr)} ${o.ascending ? 'ASC' : 'DESC'} NULLS ${o.nullsFirst ? 'FIRST' : 'LAST'}`)
        .join(', ')}]`;
    case 'limit':
      return `Limit ${p.limit === null ? 'ALL' : p.limit}${p.offset ? ` offset=${p.offset}` : ''}`;
    case 'distinct':
      return 'Distinct';
    case 'union':
      return `Union${p.byName ? ' byName' : ''}`;
    case 'alias':
      return `SubqueryAlias ${p.alias}`;
    case 'window':
      return describeWindow(p.functions);
    case 'apply_model':
      return `ApplyModel ${p.model.className} ${p.model.uri}${p.model.workerKind ? ` worker=${p.model.workerKind}` : ''} device=${p.model.device} inputs=[${p.inputs.map(exprToString).join(', ')}] outputs=[${p.outputs.map((o) => (o.name === o.as ? o.name : `${o.name} AS ${o.as}`)).join(', ')}]`;
    case 'repartition':
      return `Repartition ${p.numPartitions}${p.keys.length ? ` by [${p.keys.map(exprToString).join(', ')}]` : ''}`;
  }
}

/** `Window partitionBy=[k] orderBy=[v ASC NULLS LAST] [rank() AS r, sum(x) ROWS BETWEEN ... AS s]`: the shared
 * specification once, each function with its frame (ranking functions have none that matters). */
function describeWindow(functions: readonly Expr[]): string {
  const first = functions[0];
  const spec = first?.kind === 'alias' && first.input.kind === 'window' ? first.input : null;
  const head = spec
    ? `Window partitionBy=[${spec.partitionBy.map(exprToString).join(', ')}] orderBy=[${spec.orderBy.map(sortOrderToString).join(', ')}]`
    : 'Window';
  const fns = functions.map((f) => {
    const w = f.kind === 'alias' ? f.input : f;
    if (w.kind !== 'window') return exprToString(f);
    const call = w.fn === 'count' && w.args.length === 0 ? 'count(1)' : `${w.fn}(${w.args.map(exprToString).join(', ')})`;
    const frame = w.fn === 'row_number' || w.fn === 'rank' || w.fn === 'dense_rank' ? '' : ` ${FRAME_TEXT[w.frame]}`;
    return `${call}${frame}${f.kind === 'alias' ? ` AS ${f.name}` : ''}`;
  });
  return `${head} [${fns.join(', ')}]`;
}

export function planToString(p: LogicalPlan, indent = 0): string {
  return [`${'  '.repeat(indent)}${describe(p)}`, ...planInputs(p).map((c) => planToString(c, indent + 1))].join('\n');
}
