// `squall` command line (commander). `sql` runs a query in this process over files, or through the HTTP API
// when an endpoint is given; `submit`, `status`, `result`, `cancel`, `jobs` and `logs` are clients of the API;
// `dev` starts the local stack; `cache list|drop` manage the S3 cache entries of persisted DataFrames. The endpoint and key come from --endpoint/--api-key or SQUALL_ENDPOINT and
// SQUALL_API_KEY. While a job runs, a progress bar (stages and tasks) is drawn on stderr when it is a terminal;
// `--json` prints machine-readable output. Errors print as one line, without a stack, and exit 1.
import { readFile } from 'node:fs/promises';
import { Command, InvalidArgumentError, Option } from 'commander';
import { SquallError } from '../types/errors.ts';
import type { Schema } from '../types/schema.ts';
import { Session } from '../sdk/session.ts';
import type { DataFrame } from '../sdk/dataframe.ts';
import { type Row, formatTable, formatValue, rowKeys } from '../sdk/rows.ts';
import { type JobEvent, type JobInfo, type ProgressCallback, SquallClient, jobFailure, resultRows, resultSchema } from '../sdk/remote.ts';
import type { TableRef } from '../runtime/job-spec.ts';
import { registerCacheCommands } from './cache-command.ts';

type Format = 'table' | 'json' | 'csv';
const FORMATS: readonly Format[] = ['table', 'json', 'csv'];

function tableBinding(value: string, previous: [string, string][]): [string, string][] {
  const eq = value.indexOf('=');
  if (eq <= 0 || eq === value.length - 1) throw new InvalidArgumentError(`expected name=path, got '${value}'`);
  return [...previous, [value.slice(0, eq), value.slice(eq + 1)]];
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`expected a positive integer, got '${value}'`);
  return n;
}

function csvField(s: string): string {
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** Rows of `schema` in the chosen format. */
export function renderRows(schema: Schema, rows: readonly Row[], format: Format): string {
  const keys = rowKeys(schema);
  const types = schema.fields.map((f) => f.type);
  switch (format) {
    case 'table':
      return formatTable(schema, rows, 0, false);
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

/** The result in the chosen format. */
export function render(df: DataFrame, rows: readonly Row[], format: Format): string {
  return renderRows(df.schema, rows, format);
}

function formatOf(value: string, json?: boolean): Format {
  if (json) return 'json';
  if (!FORMATS.includes(value as Format)) throw new SquallError(`unknown format '${value}'; use table, json or csv`);
  return value as Format;
}

function formatOfPath(path: string): 'parquet' | 'csv' | 'json' {
  return /\.csv$/i.test(path) ? 'csv' : /\.(json|ndjson|jsonl)$/i.test(path) ? 'json' : 'parquet';
}

interface RemoteFlags {
  readonly endpoint?: string;
  readonly apiKey?: string;
}

function clientFor(flags: RemoteFlags, env: NodeJS.ProcessEnv): SquallClient {
  const endpoint = flags.endpoint ?? env.SQUALL_ENDPOINT;
  const apiKey = flags.apiKey ?? env.SQUALL_API_KEY;
  if (!endpoint) throw new SquallError('no endpoint: pass --endpoint URL or set SQUALL_ENDPOINT (`npx squall dev` prints it)');
  if (!apiKey) throw new SquallError('no API key: pass --api-key KEY or set SQUALL_API_KEY (`npx squall dev` prints it)');
  return new SquallClient({ endpoint, apiKey });
}

function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let v = n;
  let u = -1;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[u]}`;
}

/**
 * A progress bar on `stream` (when it is a terminal): the job's state, the stage being run, and tasks done over
 * all stages. Returns the callback and a `done` that clears the line.
 */
export function progressBar(stream: NodeJS.WriteStream = process.stderr, enabled = stream.isTTY === true): { onProgress: ProgressCallback; done(): void } {
  let drawn = false;
  const width = 28;
  return {
    onProgress(job: JobInfo) {
      if (!enabled) return;
      const { done, total, running } = job.tasks;
      const filled = total === 0 ? 0 : Math.round((done / total) * width);
      const stageIdx = job.stages.findIndex((s) => s.done < s.tasks);
      const stage = stageIdx < 0 ? job.stages.length : stageIdx + 1;
      const line = `${job.state.padEnd(9)} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] stage ${Math.min(stage, job.stages.length)}/${job.stages.length}  tasks ${done}/${total}${running ? ` (${running} running)` : ''}  rows ${job.rows}`;
      stream.write(`\r\x1b[2K${line}`);
      drawn = true;
    },
    done() {
      if (drawn) stream.write('\r\x1b[2K');
      drawn = false;
    },
  };
}

/** What `status` prints. */
export function statusText(job: JobInfo): string {
  const lines = [
    `${job.jobId}  ${job.state}`,
    `  tasks ${job.tasks.done}/${job.tasks.total}${job.tasks.running ? ` (${job.tasks.running} running)` : ''}  rows ${job.rows}  read ${bytes(job.bytesRead)}  written ${bytes(job.bytesWritten)}  retries ${job.retries}`,
    `  cost $${job.cost.usd.toFixed(6)} (${job.cost.executorGbSeconds} GB-s, ${job.cost.invocations} invocations)  created ${job.createdAt}  updated ${job.updatedAt}`,
    ...job.stages.map((s) => `  stage ${s.id}  ${s.state.padEnd(9)} tasks ${s.done}/${s.tasks}  rows ${s.rows}  read ${bytes(s.bytesRead)}  written ${bytes(s.bytesWritten)}`),
  ];
  if (job.sql) lines.push(`  sql ${job.sql.replace(/\s+/g, ' ')}`);
  if (job.result) lines.push(`  result ${job.result}`);
  if (job.error) lines.push(`  error ${job.error}`);
  return lines.join('\n');
}

function eventText(e: JobEvent): string {
  const { cursor: _c, time, type, ...rest } = e;
  const details = Object.entries(rest)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
  return `${time}  ${type}${details ? `  ${details}` : ''}`;
}

export interface CliIo {
  /** Standard output, one call per block of text. */
  readonly out?: (text: string) => void;
  readonly env?: NodeJS.ProcessEnv;
  /** Where the progress bar goes (stderr by default; drawn only on a terminal). */
  readonly progress?: NodeJS.WriteStream;
}

export async function runCli(argv: readonly string[], out: (text: string) => void = console.log, io: CliIo = {}): Promise<number> {
  const env = io.env ?? process.env;
  const print = io.out ?? out;
  const program = new Command('squall').description('Squall: Spark-style DataFrames and SQL on Arrow').exitOverride();
  const endpointOption = () => new Option('--endpoint <url>', 'the HTTP API (default: $SQUALL_ENDPOINT)');
  const keyOption = () => new Option('--api-key <key>', 'the API key (default: $SQUALL_API_KEY)');

  /** Waits for a job, drawing progress on stderr; the final status. Ctrl-C cancels the job. */
  async function waitFor(client: SquallClient, jobId: string, quiet: boolean): Promise<JobInfo> {
    const bar = progressBar(io.progress ?? process.stderr, !quiet && (io.progress ?? process.stderr).isTTY === true);
    const interrupt = new AbortController();
    const onSigint = () => interrupt.abort('interrupted (Ctrl-C)');
    process.once('SIGINT', onSigint);
    try {
      return await client.wait(jobId, { pollMs: 300, onProgress: bar.onProgress, signal: interrupt.signal });
    } finally {
      process.removeListener('SIGINT', onSigint);
      bar.done();
    }
  }

  program
    .command('sql')
    .description('run a SQL query: in this process over files, or through the HTTP API with --endpoint (or $SQUALL_ENDPOINT)')
    .argument('<query>', 'the SQL text')
    .option('-t, --table <name=path>', 'register a table (repeatable); the format follows the extension', tableBinding, [])
    .option('-f, --format <format>', 'table, json or csv', 'table')
    .option('--json', 'JSON output (same as --format json)')
    .option('--local', 'run in this process even when SQUALL_ENDPOINT is set')
    .option('--limit <n>', 'print at most this many rows', positiveInt)
    .addOption(endpointOption())
    .addOption(keyOption())
    .action(async (query: string, opts: { table: [string, string][]; format: string; json?: boolean; local?: boolean; limit?: number } & RemoteFlags) => {
      const format = formatOf(opts.format, opts.json);
      const remote = !opts.local && (opts.endpoint !== undefined || (env.SQUALL_ENDPOINT ?? '') !== '');
      if (remote) {
        const client = clientFor(opts, env);
        const tables: Record<string, TableRef> = {};
        for (const [name, path] of opts.table) {
          const f = formatOfPath(path);
          tables[name] = { path, ...(f !== 'parquet' ? { format: f } : {}) };
        }
        const { jobId } = await client.submit({ sql: query, ...(opts.table.length ? { tables } : {}) });
        const info = await waitFor(client, jobId, format === 'json');
        if (info.state !== 'succeeded') throw jobFailure(info);
        const res = await client.result(jobId, opts.limit !== undefined ? { maxRows: opts.limit } : {});
        print(renderRows(resultSchema(res.columns), resultRows(res.columns, res.rows), format));
        return;
      }
      const session = Session.local();
      for (const [name, path] of opts.table) {
        const f = formatOfPath(path);
        const df = f === 'csv' ? await session.read.option('header', true).csv(path) : f === 'json' ? await session.read.json(path) : await session.read.parquet(path);
        session.registerTable(name, df);
      }
      let df = session.sql(query);
      if (opts.limit !== undefined) df = df.limit(opts.limit);
      print(render(df, await df.collect(), format));
    });

  program
    .command('submit')
    .description("submit a job file (JSON: { sql, tables } or { plan }, with options; '-' reads stdin) and print its id")
    .argument('<job.json>', 'the job file')
    .option('--wait', 'wait for the job (progress on stderr) and print its final status; exit 1 when it fails')
    .option('--json', 'print JSON')
    .addOption(endpointOption())
    .addOption(keyOption())
    .action(async (file: string, opts: { wait?: boolean; json?: boolean } & RemoteFlags) => {
      const client = clientFor(opts, env);
      let text: string;
      try {
        text = file === '-' ? await readStdin() : await readFile(file, 'utf8');
      } catch (e) {
        throw new SquallError(`cannot read job file '${file}': ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
      const submitted = await client.submit(text);
      if (!opts.wait) {
        print(opts.json ? JSON.stringify(submitted) : submitted.jobId);
        return;
      }
      const info = await waitFor(client, submitted.jobId, opts.json === true);
      print(opts.json ? JSON.stringify(info, null, 2) : statusText(info));
      if (info.state !== 'succeeded') throw jobFailure(info);
    });

  program
    .command('status')
    .description("a job's state, stages, tasks, rows, bytes and cost")
    .argument('<id>', 'the job id')
    .option('--json', 'print the API answer as JSON')
    .addOption(endpointOption())
    .addOption(keyOption())
    .action(async (id: string, opts: { json?: boolean } & RemoteFlags) => {
      const info = await clientFor(opts, env).status(id);
      print(opts.json ? JSON.stringify(info, null, 2) : statusText(info));
    });

  program
    .command('result')
    .description("a succeeded job's result rows")
    .argument('<id>', 'the job id')
    .option('-f, --format <format>', 'table, json or csv', 'table')
    .option('--json', 'JSON output (same as --format json)')
    .option('--limit <n>', 'at most this many rows', positiveInt)
    .option('--wait', 'wait for the job to finish first')
    .addOption(endpointOption())
    .addOption(keyOption())
    .action(async (id: string, opts: { format: string; json?: boolean; limit?: number; wait?: boolean } & RemoteFlags) => {
      const format = formatOf(opts.format, opts.json);
      const client = clientFor(opts, env);
      if (opts.wait) {
        const info = await waitFor(client, id, format === 'json');
        if (info.state !== 'succeeded') throw jobFailure(info);
      }
      const res = await client.result(id, opts.limit !== undefined ? { maxRows: opts.limit } : {});
      print(renderRows(resultSchema(res.columns), resultRows(res.columns, res.rows), format));
    });

  program
    .command('cancel')
    .description('cancel a queued or running job')
    .argument('<id>', 'the job id')
    .option('--json', 'print JSON')
    .addOption(endpointOption())
    .addOption(keyOption())
    .action(async (id: string, opts: { json?: boolean } & RemoteFlags) => {
      const r = await clientFor(opts, env).cancel(id);
      print(opts.json ? JSON.stringify(r) : `${r.jobId}  ${r.state}`);
    });

  program
    .command('jobs')
    .description('your jobs, newest first')
    .option('--limit <n>', 'at most this many', positiveInt)
    .option('--after <id>', 'the page after this job id (the `next` of the previous page)')
    .option('--json', 'print JSON')
    .addOption(endpointOption())
    .addOption(keyOption())
    .action(async (opts: { limit?: number; after?: string; json?: boolean } & RemoteFlags) => {
      const r = await clientFor(opts, env).jobs({ ...(opts.limit !== undefined ? { limit: opts.limit } : {}), ...(opts.after !== undefined ? { after: opts.after } : {}) });
      if (opts.json) {
        print(JSON.stringify(r, null, 2));
        return;
      }
      if (r.jobs.length === 0) {
        print('(no jobs)');
        return;
      }
      const rows = r.jobs.map((j) => [j.jobId, j.state, j.createdAt ?? '', (j.sql ?? '').replace(/\s+/g, ' ').slice(0, 60)]);
      const widths = [0, 1, 2].map((i) => Math.max(...rows.map((x) => x[i]!.length), ['JOB', 'STATE', 'CREATED'][i]!.length));
      const line = (x: string[]) => x.map((c, i) => (i < 3 ? c.padEnd(widths[i]!) : c)).join('  ').trimEnd();
      print([line(['JOB', 'STATE', 'CREATED', 'SQL']), ...rows.map(line), ...(r.next ? [`(more: --after ${r.next})`] : [])].join('\n'));
    });

  program
    .command('logs')
    .description("a job's progress events; --follow keeps printing until the job ends")
    .argument('<id>', 'the job id')
    .option('--follow', 'wait for new events until the job has finished')
    .option('--json', 'one JSON object per event')
    .addOption(endpointOption())
    .addOption(keyOption())
    .action(async (id: string, opts: { follow?: boolean; json?: boolean } & RemoteFlags) => {
      const client = clientFor(opts, env);
      let after: string | null = null;
      for (;;) {
        const page = await client.events(id, { after, ...(opts.follow ? { waitSeconds: 10 } : {}) });
        if (page.events.length > 0) print(page.events.map((e) => (opts.json ? JSON.stringify(e) : eventText(e))).join('\n'));
        after = page.cursor;
        if (!opts.follow || page.done) break;
      }
    });

  registerCacheCommands(program, print, env);

  program
    .command('dev')
    .description('start the local stack (S3, Lambda, the HTTP API) and print its endpoint, environment and an API key; Ctrl-C stops it')
    .option('--s3-port <n>', 'S3 port', positiveInt)
    .option('--lambda-port <n>', 'Lambda Invoke port', positiveInt)
    .option('--api-port <n>', 'HTTP API port', positiveInt)
    .option('--api-key <key>', 'the API key to accept (generated by default)')
    .option('--data <dir>', 'keep S3 objects in this folder')
    .option('--quiet', "don't print the functions' logs")
    .option('--json', 'print the endpoints, key and environment as one JSON line')
    .action(async (opts: { s3Port?: number; lambdaPort?: number; apiPort?: number; apiKey?: string; data?: string; quiet?: boolean; json?: boolean }) => {
      const { startDevStack, stopOnSignals } = await import('../../infra/local-stack/dev.ts');
      if (opts.apiKey !== undefined && opts.apiKey.length < 16) throw new SquallError('--api-key must be at least 16 characters');
      const dev = await startDevStack({
        ...(opts.s3Port !== undefined ? { s3Port: opts.s3Port } : {}),
        ...(opts.lambdaPort !== undefined ? { lambdaPort: opts.lambdaPort } : {}),
        ...(opts.apiPort !== undefined ? { apiPort: opts.apiPort } : {}),
        ...(opts.apiKey !== undefined ? { apiKey: opts.apiKey } : {}),
        ...(opts.data !== undefined ? { dir: opts.data } : {}),
        logs: opts.quiet ? 'silent' : 'inherit',
      });
      print(opts.json ? JSON.stringify({ endpoint: dev.endpoint, apiKey: dev.apiKey, bucket: dev.stack.bucket, functions: dev.functions, env: dev.env }) : dev.describe());
      stopOnSignals(dev, opts.json ? () => {} : print);
      // Runs until a signal stops it.
      await new Promise(() => {});
    });

  for (const cmd of program.commands) cmd.exitOverride();
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    const e = err as { code?: string; exitCode?: number; message?: string };
    if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return 0;
    if (e.code?.startsWith('commander.')) return e.exitCode || 2;
    if (err instanceof SquallError) {
      console.error(`error: ${oneLine(err.message)}`);
      return 1;
    }
    // Our own bugs and unexpected failures: still one line, with the error's class.
    console.error(`error: ${err instanceof Error ? `${err.name}: ${oneLine(err.message)}` : String(err)}`);
    return 1;
  }
  return 0;
}

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, ' ');
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
