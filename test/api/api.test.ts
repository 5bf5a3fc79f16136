// The HTTP API over the local stack: API Gateway's HTTP API stand-in → the api function (worker process) →
// the coordinator function (asynchronous invocation) → executor functions, data in s3rver. Authentication,
// per-caller visibility, validation errors that name the problem and create nothing, status, paged results
// equal to DuckDB, progress events (JSON long polling and SSE framing) and cancel.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateTpch } from '../../bench/tpch/generate.ts';
import { duckdbTpchViews } from '../../bench/tpch/queries.ts';
import { S3ObjectStore } from '../../core/io/object-store.ts';
import { type LocalStack, startLocalStack } from '../../infra/local-stack/index.ts';
import { expectSameRows, plain } from '../support/compare.ts';
import '../infra/support.ts';

const ALICE = 'alice-key-0123456789abcdef';
const BOB = 'bob-key-0123456789abcdef00';
const TABLES = ['lineitem', 'orders', 'customer', 'nation'] as const;
let stack: LocalStack;
let store: S3ObjectStore;
let local: string;
let instance: DuckDBInstance;
let duck: DuckDBConnection;

beforeAll(async () => {
  local = await mkdtemp(join(tmpdir(), 'squall-api-'));
  await generateTpch({ scaleFactor: 0.01, outDir: local, tables: [...TABLES] });
  stack = await startLocalStack({
    concurrency: 8,
    logs: 'silent',
    functions: {
      executor: { handler: 'functions/executor.ts#handler', timeoutSeconds: 30 },
      coordinator: { handler: 'functions/coordinator.ts#handler', timeoutSeconds: 120, environment: { SQUALL_EXECUTOR_FUNCTION: 'executor' } },
      api: {
        handler: 'functions/api.ts#handler',
        timeoutSeconds: 30,
        environment: { SQUALL_API_KEYS: `alice:${ALICE},bob:${BOB}`, SQUALL_COORDINATOR_FUNCTION: 'coordinator' },
      },
    },
    httpApi: { function: 'api' },
  });
  store = S3ObjectStore.fromEndpoints(stack.endpoints());
  await stack.lambda.prewarm('executor', 4);
  for (const t of TABLES) await store.put(`s3://${stack.bucket}/data/${t}.parquet`, await readFile(join(local, `${t}.parquet`)));
  instance = await DuckDBInstance.create(':memory:');
  duck = await instance.connect();
  for (const v of duckdbTpchViews(local)) await duck.run(v).catch(() => {});
}, 120_000);

afterAll(async () => {
  store?.destroy();
  await stack?.stop();
  duck?.closeSync();
  instance?.closeSync();
  if (local) await rm(local, { recursive: true, force: true });
});

async function call(method: string, path: string, key: string | null, body?: unknown, headers: Record<string, string> = {}) {
  // A 429 from the API front means the request never ran (all Lambda slots busy): clients retry it.
  for (let attempt = 1; ; attempt++) {
    const r = await callOnce(method, path, key, body, headers);
    if (r.status !== 429 || attempt === 5) return r;
    await new Promise((res) => setTimeout(res, 200 * attempt));
  }
}

async function callOnce(method: string, path: string, key: string | null, body?: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${stack.apiEndpoint}${path}`, {
    method,
    headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json: any = null;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: res.status, json, text, headers: res.headers };
}

function tables() {
  return Object.fromEntries(TABLES.map((t) => [t, { path: `s3://${stack.bucket}/data/${t}.parquet` }]));
}

async function waitFor(id: string, key: string, states: string[], timeoutMs = 60_000) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const r = await call('GET', `/jobs/${id}`, key);
    if (states.includes(r.json.state)) return r.json;
    if (Date.now() > until) throw new Error(`job ${id} still ${r.json.state}`);
    await new Promise((res) => setTimeout(res, 200));
  }
}

const SQL = `SELECT n_name, count(*) AS orders, sum(o_totalprice) AS total
  FROM orders JOIN customer ON o_custkey = c_custkey JOIN nation ON c_nationkey = n_nationkey
  GROUP BY n_name ORDER BY total DESC, n_name`;

describe('HTTP API', () => {
  it('refuses requests without a valid key', async () => {
    expect((await call('GET', '/jobs', null)).status).toBe(401);
    const wrong = await call('GET', '/jobs', 'not-a-key-0123456789');
    expect(wrong.status).toBe(401);
    expect(wrong.json.error.message).toMatch(/API key/);
  }, 30_000);

  it('answers bad jobs with a 4xx naming the problem, and creates no job', async () => {
    const cases: [unknown, number, RegExp][] = [
      ['{not json', 400, /not JSON/],
      [{ sql: 'SELECT 1', tables: { 'bad-name': { path: 's3://x/y' } } }, 400, /tables\.bad-name/],
      [{ sql: 'SELECT * FROM nope', tables: tables() }, 400, /table 'nope'/],
      [{ sql: 'SELECT o_nope FROM orders', tables: tables() }, 400, /o_nope/],
      [{ sql: 'SELEC 1', tables: tables() }, 400, /./],
      [{ sql: 'SELECT 1', plan: {} }, 400, /exactly one of `sql`, `plan` and `rdd`/],
      [{ sql: 'SELECT * FROM t', tables: { t: { path: `s3://${'squall'}/data/missing.parquet` } } }, 400, /missing\.parquet/],
      [{ plan: { kind: 'scan' } }, 400, /plan/],
      [{ sql: 'SELECT 1 AS one' }, 422, /in-memory table/],
      ['x'.repeat(2 << 20), 413, /limit/],
    ];
    for (const [body, status, message] of cases) {
      const r = await call('POST', '/jobs', ALICE, body);
      expect({ body: String(JSON.stringify(body)).slice(0, 60), status: r.status }).toEqual({ body: String(JSON.stringify(body)).slice(0, 60), status });
      expect(r.json.error.message).toMatch(message);
    }
    expect((await call('GET', '/jobs', ALICE)).json.jobs).toEqual([]);
  }, 60_000);

  it('runs a job: status, paged results equal to DuckDB, events; other callers cannot see it', async () => {
    const submitted = await call('POST', '/jobs', ALICE, { sql: SQL, tables: tables(), options: { targetBytesPerTask: 64 << 10, maxPartitions: 3 } });
    expect(submitted.status).toBe(202);
    const id = submitted.json.jobId as string;
    expect(submitted.headers.get('location')).toBe(`/jobs/${id}`);
    const done = await waitFor(id, ALICE, ['succeeded', 'failed']);
    expect(done.state).toBe('succeeded');
    expect(done.tasks.done).toBe(done.tasks.total);
    expect(done.cost.executorGbSeconds).toBeGreaterThan(0);
    expect(done.sql).toBe(SQL);

    const expected = (await duck.runAndReadAll(SQL)).getRows().map((r) => r.map(plain));
    const first = await call('GET', `/jobs/${id}/result?limit=10`, ALICE);
    expect(first.json.total).toBe(expected.length);
    expect(first.json.columns.map((c: { name: string }) => c.name)).toEqual(['n_name', 'orders', 'total']);
    const pages = [first.json];
    while (pages.at(-1).next) pages.push((await call('GET', pages.at(-1).next, ALICE)).json);
    expect(pages).toHaveLength(3);
    const rows = pages.flatMap((p) => p.rows).map((r: Record<string, unknown>) => [r.n_name, r.orders, r.total].map(plain));
    expectSameRows(rows, expected, { ordered: true });

    const events = await call('GET', `/jobs/${id}/events`, ALICE);
    const types = events.json.events.map((e: { type: string }) => e.type);
    expect(types[0]).toBe('job_started');
    expect(types).toContain('task_finished');
    expect(types.at(-1)).toBe('job_finished');
    const after = await call('GET', `/jobs/${id}/events?after=${encodeURIComponent(events.json.cursor)}&wait=1`, ALICE);
    expect(after.json).toMatchObject({ events: [], done: true });
    const sse = await call('GET', `/jobs/${id}/events`, ALICE, undefined, { accept: 'text/event-stream' });
    expect(sse.headers.get('content-type')).toBe('text/event-stream');
    expect(sse.text).toMatch(/^id: r000000-00000000\.json#0\nevent: job_started\ndata: \{/);

    expect((await call('GET', '/jobs', ALICE)).json.jobs.map((j: { jobId: string }) => j.jobId)).toContain(id);
    expect((await call('GET', `/jobs/${id}`, BOB)).status).toBe(404);
    expect((await call('GET', `/jobs/${id}/result`, BOB)).status).toBe(404);
    expect((await call('DELETE', `/jobs/${id}`, BOB)).status).toBe(404);
    expect((await call('GET', '/jobs', BOB)).json.jobs).toEqual([]);
    expect((await call('DELETE', `/jobs/${id}`, ALICE)).status).toBe(409);
  }, 90_000);

  it('pages a result of several Parquet parts in order', async () => {
    const sql = 'SELECT o_orderkey, o_totalprice FROM orders ORDER BY o_orderkey';
    const submitted = await call('POST', '/jobs', ALICE, { sql, tables: tables(), options: { targetBytesPerTask: 64 << 10, maxPartitions: 3 } });
    const id = submitted.json.jobId as string;
    const done = await waitFor(id, ALICE, ['succeeded', 'failed']);
    expect(done.state).toBe('succeeded');
    const parts: string[] = [];
    for await (const e of store.listAll(`${done.result}/part-`)) parts.push(e.uri);
    expect(parts.length).toBeGreaterThan(1);
    const pages = [(await call('GET', `/jobs/${id}/result?limit=4000`, ALICE)).json];
    while (pages.at(-1).next) pages.push((await call('GET', pages.at(-1).next, ALICE)).json);
    const rows = pages.flatMap((p) => p.rows).map((r: Record<string, unknown>) => [r.o_orderkey, r.o_totalprice].map(plain));
    expectSameRows(rows, (await duck.runAndReadAll(sql)).getRows().map((r) => r.map(plain)), { ordered: true });
  }, 90_000);

  it('cancels a running job: it stops and its partial output is removed', async () => {
    // Many small tasks one at a time: the job runs long enough to be cancelled mid-way.
    const submitted = await call('POST', '/jobs', ALICE, {
      sql: 'SELECT l_returnflag, count(*) AS n FROM lineitem GROUP BY l_returnflag',
      tables: tables(),
      options: { targetBytesPerTask: 1 << 10, maxPartitions: 2, scheduler: { concurrency: 1 } },
    });
    const id = submitted.json.jobId as string;
    await waitFor(id, ALICE, ['running']);
    const del = await call('DELETE', `/jobs/${id}`, ALICE);
    expect(del.status).toBe(202);
    const end = await waitFor(id, ALICE, ['cancelled', 'succeeded', 'failed']);
    expect(end.state).toBe('cancelled');
    expect(end.tasks.done).toBeLessThan(end.tasks.total);
    expect((await call('GET', `/jobs/${id}/result`, ALICE)).status).toBe(409);
    const left: string[] = [];
    for await (const e of store.listAll(`s3://${stack.bucket}/jobs/${id}/shuffle/`)) left.push(e.uri);
    for await (const e of store.listAll(`s3://${stack.bucket}/jobs/${id}/result/`)) left.push(e.uri);
    expect(left).toEqual([]);
  }, 90_000);
});
