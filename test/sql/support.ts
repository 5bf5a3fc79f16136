// A catalog of in-memory scans for SQL plan tests: no data, just schemas, so plans print predictably.
import type { LogicalPlan } from '../../core/plan/logical-plan.ts';
import { planToString } from '../../core/plan/print.ts';
import { sqlToPlan } from '../../core/sql/index.ts';
import type { SqlCatalog } from '../../core/sql/index.ts';
import { toDataType } from '../../core/types/parse-type.ts';
import { field, schema } from '../../core/types/schema.ts';

const TABLES: Record<string, Record<string, string>> = {
  t: { a: 'bigint', b: 'string', c: 'decimal(12,2)', d: 'date', k: 'int' },
  u: { k: 'int', e: 'double', f: 'string' },
  v: { k: 'int', g: 'bigint' },
};

function scan(name: string, cols: Record<string, string>): LogicalPlan {
  return Object.freeze({
    kind: 'scan',
    source: Object.freeze({ format: 'memory', id: name }),
    schema: schema(Object.entries(cols).map(([n, t]) => field(n, toDataType(t as never), true))),
    projection: null,
    filters: [],
  });
}

export const testCatalog: SqlCatalog = {
  table: (name) => (TABLES[name.toLowerCase()] ? scan(name.toLowerCase(), TABLES[name.toLowerCase()]!) : undefined),
  tableNames: () => Object.keys(TABLES),
  oneRow: () => scan('one', { id: 'bigint' }),
};

/** The printed logical plan of a query over t(a, b, c, d, k), u(k, e, f), v(k, g). */
export function plan(sql: string): string {
  return `\n${planToString(sqlToPlan(sql, testCatalog))}\n`;
}
