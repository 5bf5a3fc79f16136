// `squall` command line. `squall sql "<query>" --table name=path.parquet` runs a query in this process and
// prints the result as a table, JSON or CSV. Errors the user can fix print as one line, without a stack.
import { Command, InvalidArgumentError } from 'commander';
import { SquallError } from '../types/errors.ts';
import { Session } from '../sdk/session.ts';
import type { DataFrame } from '../sdk/dataframe.ts';
import { type Row, formatTable, formatValue, rowKeys } from '../sdk/rows.ts';

type Format = 'table' | 'json' | 'csv';

function tableBinding(value: string, previous: [string, string][]): [string, string][] {
  const eq = value.indexOf('=');
  if (eq <= 0 || eq === value.length - 1) throw new InvalidArgumentError(`expected name=path, got '${value}'`);
  return [...previous, [value.slice(0, eq), value.slice(eq + 1)]];
}

function csvField(s: string): string {
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** The result in the chosen format. */
export function render(df: DataFrame, rows: readonly Row[], format: Format): string {
  const keys = rowKeys(df.schema);
  const types = df.schema.fields.map((f) => f.type);
  switch (format) {
    case 'table':
      return formatTable(df.schema, rows, 0, false);
    case 'json':
      return JSON.stringify(
        rows.map((r) => Object.fromEntries(keys.map((k, i) => [k, r[k] === null ? null : typeof r[k] === 'bigint' ? String(r[k]) : typeof r[k] === 'object' ? formatValue(r[k]!, types[i]!) : r[k]]))),
        null,
        2,
      );
    case 'csv':
      return [keys.map(csvField).join(','), ...rows.map((r) => keys.map((k, i) => (r[k] === null ? '' : csvField(formatValue(r[k]!, types[i]!)))).join(','))].join('\n');
  }
}

export async function runCli(argv: readonly string[], out: (text: string) => void = console.log): Promise<number> {
  const program = new Command('squall').description('Squall: Spark-style DataFrames and SQL on Arrow').exitOverride();
  program
    .command('sql')
    .description('run a SQL query in this process over Parquet, CSV or NDJSON files')
    .argument('<query>', 'the SQL text')
    .option('-t, --table <name=path>', 'register a table (repeatable); the format follows the extension', tableBinding, [])
    .option('-f, --format <format>', 'table, json or csv', 'table')
    .action(async (query: string, opts: { table: [string, string][]; format: string }) => {
      if (!['table', 'json', 'csv'].includes(opts.format)) throw new InvalidArgumentError(`unknown format '${opts.format}'; use table, json or csv`);
      const session = Session.local();
      for (const [name, path] of opts.table) {
        const df = /\.csv$/i.test(path)
          ? await session.read.option('header', true).csv(path)
          : /\.(json|ndjson|jsonl)$/i.test(path)
            ? await session.read.json(path)
            : await session.read.parquet(path);
        session.registerTable(name, df);
      }
      const df = session.sql(query);
      out(render(df, await df.collect(), opts.format as Format));
    });
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    const e = err as { code?: string; exitCode?: number; message?: string };
    if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return 0;
    if (e.code?.startsWith('commander.')) return e.exitCode ?? 2;
    if (err instanceof SquallError) {
      console.error(`error: ${err.message}`);
      return 1;
    }
    throw err;
  }
  return 0;
}
