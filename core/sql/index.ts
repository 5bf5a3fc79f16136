// The SQL front end: session.sql(text) parses with node-sql-parser and translates to a logical plan.
export { sqlToPlan } from './query.ts';
export type { SqlCatalog } from './context.ts';
export { parseSql, preprocessSql } from './parse.ts';
