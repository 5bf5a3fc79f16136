// Logical plans as indented text: what explain() prints and what optimizer rule tests compare.
import { exprToString } from '../expr/expr.ts';
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
    case 'repartition':
      return `Repartition ${p.numPartitions}${p.keys.length ? ` by [${p.keys.map(exprToString).join(', ')}]` : ''}`;
  }
}

export function planToString(p: LogicalPlan, indent = 0): string {
  return [`${'  '.repeat(indent)}${describe(p)}`, ...planInputs(p).map((c) => planToString(c, indent + 1))].join('\n');
}
