// `npm start`: the serverless runtime end to end on one machine. Generates a TPC-H data set as Parquet (once),
// starts the local stack (s3rver + the Lambda Invoke endpoint running functions/coordinator.ts and
// functions/executor.ts in worker processes), uploads the tables to S3, and submits two jobs to the coordinator
// function through @aws-sdk/client-lambda: TPC-H Q1 (scan, partial and final aggregate) and a multi-stage job
// with shuffle joins, an aggregate and a sort. Progress streams from the coordinator's events while they run;
// the results come back inline and are also committed to S3 as Parquet.
// The stack is the one `npm run dev` starts.
//   SQUALL_DEMO_SF=1 npm start     a larger data set (default 0.1)
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { S3ObjectStore, lambdaClientConfig } from '../core/io/object-store.ts';
import { setS3Store } from '../core/io/s3-file-store.ts';
import { stageGraphText } from '../core/physical/stages.ts';
import type { JobResultPayload } from '../core/runtime/coordinator.ts';
import { type JobSpec, compileJob } from '../core/runtime/job-spec.ts';
import { fromBase64 } from '../core/runtime/protocol.ts';
import type { JobEvent } from '../core/runtime/scheduler.ts';
import { batchesToRows, formatTable } from '../core/sdk/rows.ts';
import { decodeStream } from '../core/shuffle/shuffle-reader.ts';
import { fromArrowSchema } from '../core/types/arrow-types.ts';
import { startDevStack } from '../infra/local-stack/dev.ts';
import * as arrow from 'apache-arrow';
import { generateTpch } from './tpch/generate.ts';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const sf = Number(process.env['SQUALL_DEMO_SF'] ?? 0.1);
const dir = join(import.meta.dirname, '.data', `tpch-sf${sf}`);
const TABLES = ['lineitem', 'orders', 'customer', 'nation'] as const;
console.log(`Squall demo: TPC-H scale factor ${sf} (${dir})`);
const files = await generateTpch({ scaleFactor: sf, outDir: dir, tables: [...TABLES] });

/** Progress from the coordinator's event log lines (one JSON event per line). */
class Progress {
  private stages = new Map<number, { tasks: number; done: number; rows: number; pass: string }>();
  private lastDraw = 0;
  private readonly tty = process.stdout.isTTY === true;
  private drawn = 0;

  line(text: string): void {
    let e: JobEvent;
    try {
      e = JSON.parse(text) as JobEvent;
    } catch {
      return;
    }
    switch (e.type) {
      case 'job_started':
        this.stages = new Map(e.stages.map((s) => [s.id, { tasks: s.tasks, done: 0, rows: 0, pass: 'waiting' }]));
        this.drawn = 0;
        break;
      case 'stage_started':
        this.stages.get(e.stage)!.pass = e.pass === 'sample' ? 'sampling' : 'running';
        break;
      case 'task_finished': {
        const s = this.stages.get(e.stage)!;
        if (s.pass === 'running') {
          s.done++;
          s.rows += e.rows;
        }
        break;
      }
      case 'task_failed':
        this.print(`  ! stage ${e.stage} task ${e.task} attempt ${e.attempt}: ${e.kind}: ${e.error}${e.retryInMs !== null ? ` (retry in ${e.retryInMs} ms)` : ''}`);
        break;
      case 'stage_finished':
        this.stages.get(e.stage)!.pass = 'done';
        if (!this.tty) this.print(`  stage ${e.stage} done: ${e.rows.toLocaleString()} rows in ${e.durationMs} ms`);
        break;
      case 'stage_skipped':
        this.stages.get(e.stage)!.pass = 'done';
        break;
      default:
        break;
    }
    if (this.tty && (Date.now() - this.lastDraw > 50 || e.type === 'stage_finished' || e.type === 'job_finished')) this.draw();
  }

  private print(s: string): void {
    if (this.tty && this.drawn > 0) process.stdout.write(`\x1b[${this.drawn}A\x1b[J`);
    this.drawn = 0;
    console.log(s);
  }

  private draw(): void {
    this.lastDraw = Date.now();
    const lines = [...this.stages.entries()].map(([id, s]) => {
      const width = 24;
      const filled = Math.round((s.done / s.tasks) * width);
      return `  stage ${id} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(s.done).padStart(3)}/${s.tasks} tasks  ${s.rows.toLocaleString().padStart(11)} rows  ${s.pass}`;
    });
    if (this.drawn > 0) process.stdout.write(`\x1b[${this.drawn}A\x1b[J`);
    process.stdout.write(`${lines.join('\n')}\n`);
    this.drawn = lines.length;
  }
}

const progress = new Progress();
// The same stack `npm run dev` starts (s3rver, the Invoke endpoint with every function, the HTTP API).
const dev = await startDevStack({
  logs: (fn, line, stream) => {
    if (fn === 'coordinator' && stream !== 'stderr') progress.line(line);
    else if (stream === 'stderr') process.stderr.write(`[${fn}] ${line}\n`);
  },
});
const stack = dev.stack;
const lambda = new LambdaClient({ ...lambdaClientConfig(stack.endpoints()), maxAttempts: 1 });
const store = S3ObjectStore.fromEndpoints(stack.endpoints());
setS3Store(store);

try {
  console.log(`local stack: S3 ${stack.s3Endpoint}, Lambda ${stack.lambdaEndpoint}`);
  const prefix = `s3://${stack.bucket}/data/tpch-sf${sf}`;
  for (const t of TABLES) await store.put(`${prefix}/${t}.parquet`, await readFile(files[t]!.path));
  console.log(`uploaded ${TABLES.join(', ')} to ${prefix}/`);
  await stack.lambda.prewarm('executor', 4);
  const tables = Object.fromEntries(TABLES.map((t) => [t, { path: `${prefix}/${t}.parquet` }]));
  const options = { targetBytesPerTask: 4 << 20, maxPartitions: 8, scheduler: { concurrency: 8 } };

  const jobs: { title: string; spec: JobSpec }[] = [
    {
      title: 'TPC-H Q1 (pricing summary report): scan → partial aggregate → shuffle → final aggregate → sort',
      spec: {
        sql: `SELECT l_returnflag, l_linestatus, sum(l_quantity) AS sum_qty, sum(l_extendedprice) AS sum_base_price,
                sum(l_extendedprice * (1 - l_discount)) AS sum_disc_price, avg(l_quantity) AS avg_qty,
                avg(l_discount) AS avg_disc, count(*) AS count_order
              FROM lineitem WHERE l_shipdate <= DATE '1998-09-02'
              GROUP BY l_returnflag, l_linestatus ORDER BY l_returnflag, l_linestatus`,
        tables,
        options,
      },
    },
    {
      title: 'Revenue by nation and year: lineitem ⋈ orders ⋈ customer (shuffle joins) ⋈ nation (broadcast) → aggregate → top 10',
      spec: {
        sql: `SELECT n_name, extract(year FROM o_orderdate) AS year, count(*) AS lines,
                sum(l_extendedprice * (1 - l_discount)) AS revenue
              FROM lineitem JOIN orders ON l_orderkey = o_orderkey
                JOIN customer ON o_custkey = c_custkey JOIN nation ON c_nationkey = n_nationkey
              GROUP BY n_name, extract(year FROM o_orderdate) ORDER BY revenue DESC LIMIT 10`,
        tables,
        // Only the small nation table is broadcast: lineitem ⋈ orders and ⋈ customer shuffle both sides.
        options: { ...options, broadcastThreshold: 64 << 10 },
      },
    },
  ];

  for (const { title, spec } of jobs) {
    console.log(`\n${title}`);
    console.log(stageGraphText(await compileJob(spec)));
    const before = stack.s3.requestCount();
    const t0 = performance.now();
    const out = await lambda.send(new InvokeCommand({ FunctionName: 'coordinator', Payload: new TextEncoder().encode(JSON.stringify({ action: 'run', job: spec })) }));
    const text = new TextDecoder().decode(out.Payload);
    if (out.FunctionError) throw new Error(`job failed: ${text}`);
    const r = JSON.parse(text) as JobResultPayload;
    const ms = performance.now() - t0;
    const bytes = fromBase64(r.inline!);
    const schema = fromArrowSchema(arrow.tableFromIPC(bytes).schema);
    console.log(formatTable(schema, batchesToRows(schema, decodeStream(bytes)), 20, false));
    const tasks = r.status.stages.reduce((n, s) => n + s.tasks, 0);
    console.log(
      `${r.state} in ${ms.toFixed(0)} ms: ${r.status.stages.length} stages, ${tasks} tasks, ${r.status.retries} retries; ` +
        `${stack.s3.requestCount() - before} S3 requests; result ${r.resultUri} (${r.files.length} Parquet part${r.files.length === 1 ? '' : 's'})`,
    );
  }
} finally {
  lambda.destroy();
  store.destroy();
  await stack.stop();
}
