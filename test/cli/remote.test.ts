// The `squall` command against the HTTP API: `squall dev` starts the local stack (as a child process, printing
// its endpoint, key and environment), then `sql` (remote), `submit`, `status`, `result`, `jobs`, `logs` and
// `cancel` run as child processes pointed at it through SQUALL_ENDPOINT / SQUALL_API_KEY; errors exit non-zero
// with one line.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateTpch } from '../../bench/tpch/generate.ts';
import { S3ObjectStore, endpointsFromEnv } from '../../core/io/object-store.ts';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const ROOT = join(import.meta.dirname, '..', '..');
const CLI = join(ROOT, 'core', 'cli', 'squall.mjs');
let dev: ChildProcess;
let env: Record<string, string>;
let dir: string;
let store: S3ObjectStore;

function squall(args: string[], extraEnv: Record<string, string> = {}): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { cwd: ROOT, env: { ...process.env, ...env, ...extraEnv, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' }, timeout: 240_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? ((error as { code?: unknown }).code as number) ?? 1 : 0, out: stdout, err: stderr });
    });
  });
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'squall-cli-remote-'));
  const generated = generateTpch({ scaleFactor: 0.01, outDir: dir, tables: ['lineitem', 'nation'] });
  dev = spawn(process.execPath, [CLI, 'dev', '--json', '--quiet'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'ignore'], env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' } });
  const banner = await new Promise<string>((resolve, reject) => {
    let text = '';
    dev.stdout!.on('data', (d: Buffer) => {
      text += d.toString();
      if (text.includes('\n')) resolve(text.split('\n')[0]!);
    });
    dev.once('exit', (code) => reject(new Error(`squall dev exited with ${code}`)));
  });
  const info = JSON.parse(banner) as { endpoint: string; apiKey: string; env: Record<string, string> };
  expect(info.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  expect(info.env).toMatchObject({ SQUALL_ENDPOINT: info.endpoint, SQUALL_API_KEY: info.apiKey });
  env = info.env;
  // Warm the API's worker: on a loaded machine a cold start can outlast a request.
  for (let i = 0; i < 30; i++) {
    const r = await fetch(`${info.endpoint}/jobs`, { headers: { authorization: `Bearer ${info.apiKey}` } }).catch(() => null);
    if (r?.status === 200) break;
    await new Promise((res) => setTimeout(res, 1000));
  }
  await generated;
  store = S3ObjectStore.fromEndpoints(endpointsFromEnv(env));
  for (const t of ['lineitem', 'nation']) await store.put(`s3://squall/data/${t}.parquet`, await readFile(join(dir, `${t}.parquet`)));
}, 240_000);

afterAll(async () => {
  store?.destroy();
  if (dev && dev.exitCode === null) {
    const exited = new Promise((r) => dev.once('exit', r));
    dev.kill('SIGTERM');
    await exited;
  }
  if (dir) await rm(dir, { recursive: true, force: true });
});

const QUERY = 'SELECT n_regionkey, count(*) AS n, min(n_name) AS first FROM nation GROUP BY n_regionkey ORDER BY n_regionkey';

describe('squall (remote)', () => {
  it('sql through the API prints what sql in this process prints', async () => {
    const remote = await squall(['sql', QUERY, '-t', 'nation=s3://squall/data/nation.parquet', '--json']);
    expect(remote.err).toBe('');
    expect(remote.code).toBe(0);
    const local = await squall(['sql', QUERY, '-t', `nation=${join(dir, 'nation.parquet')}`, '--json', '--local']);
    expect(local.code).toBe(0);
    expect(JSON.parse(remote.out)).toEqual(JSON.parse(local.out));
    expect(JSON.parse(remote.out)).toHaveLength(5);
    const table = await squall(['sql', QUERY, '-t', 'nation=s3://squall/data/nation.parquet']);
    expect(table.out).toContain('|n_regionkey|  n|');
  }, 240_000);

  it('submit, status, result, jobs, logs', async () => {
    const job = join(dir, 'job.json');
    await writeFile(job, JSON.stringify({ sql: QUERY, tables: { nation: { path: 's3://squall/data/nation.parquet' } } }));
    const submitted = await squall(['submit', job]);
    expect(submitted.code).toBe(0);
    const id = submitted.out.trim();
    expect(id).toMatch(/^job-/);

    const waited = await squall(['result', id, '--wait', '--format', 'json']);
    expect(waited.code).toBe(0);
    const rows = JSON.parse(waited.out) as { n_regionkey: number; n: number; first: string }[];
    expect(rows.map((r) => r.n)).toEqual([5, 5, 5, 5, 5]);
    expect(rows[0]).toEqual({ n_regionkey: 0, n: 5, first: 'ALGERIA' });
    const limited = await squall(['result', id, '--format', 'csv', '--limit', '2']);
    expect(limited.out.trim()).toBe('n_regionkey,n,first\n0,5,ALGERIA\n1,5,ARGENTINA');

    const status = await squall(['status', id, '--json']);
    expect(status.code).toBe(0);
    expect(JSON.parse(status.out)).toMatchObject({ jobId: id, state: 'succeeded', sql: QUERY });
    const text = await squall(['status', id]);
    expect(text.out.split('\n')[0]).toBe(`${id}  succeeded`);

    const waitedSubmit = await squall(['submit', job, '--wait', '--json']);
    expect(waitedSubmit.code).toBe(0);
    expect(JSON.parse(waitedSubmit.out)).toMatchObject({ state: 'succeeded', rows: 5, tasks: { running: 0 } });
    const firstPage = await squall(['jobs', '--limit', '1']);
    expect(firstPage.out).toMatch(/^\(more: --after job-/m);

    const jobs = await squall(['jobs', '--json']);
    expect(JSON.parse(jobs.out).jobs.map((j: { jobId: string }) => j.jobId)).toContain(id);
    const listed = await squall(['jobs']);
    expect(listed.out).toMatch(new RegExp(`^${id}\\s+succeeded`, 'm'));

    const logs = await squall(['logs', id, '--json']);
    const types = logs.out.trim().split('\n').map((l) => JSON.parse(l).type);
    expect(types[0]).toBe('job_started');
    expect(types.at(-1)).toBe('job_finished');
    const followed = await squall(['logs', id, '--follow']);
    expect(followed.code).toBe(0);
    expect(followed.out).toContain('job_finished');

    const again = await squall(['cancel', id]);
    expect(again.code).not.toBe(0);
    expect(again.err.trim()).toBe(`error: job '${id}' already succeeded`);
  }, 240_000);

  it('cancels a running job', async () => {
    const job = join(dir, 'long.json');
    await writeFile(job, JSON.stringify({
      sql: 'SELECT l_returnflag, count(*) AS n FROM lineitem GROUP BY l_returnflag',
      tables: { lineitem: { path: 's3://squall/data/lineitem.parquet' } },
      options: { targetBytesPerTask: 4 << 10, maxPartitions: 2, scheduler: { concurrency: 1 } },
    }));
    const id = (await squall(['submit', job])).out.trim();
    const cancelled = await squall(['cancel', id, '--json']);
    expect(cancelled.code).toBe(0);
    expect(JSON.parse(cancelled.out)).toEqual({ jobId: id, state: 'cancelling' });
    const failed = await squall(['result', id, '--wait']);
    expect(failed.code).not.toBe(0);
    expect(failed.err.trim()).toBe(`error: job ${id} was cancelled`);
    expect(JSON.parse((await squall(['status', id, '--json'])).out).state).toBe('cancelled');
  }, 240_000);

  it('errors exit non-zero with one line', async () => {
    const unknown = await squall(['status', 'job-20200101000000-000000000000']);
    expect(unknown.code).not.toBe(0);
    expect(unknown.err).toBe("error: no job 'job-20200101000000-000000000000'\n");
    const badSql = await squall(['sql', 'SELECT n_nope FROM nation', '-t', 'nation=s3://squall/data/nation.parquet']);
    expect(badSql.code).toBe(1);
    expect(badSql.err).toMatch(/^error: column 'n_nope' does not exist[^\n]*\n$/);
    const noKey = await squall(['jobs'], { SQUALL_API_KEY: '' });
    expect(noKey.code).toBe(1);
    expect(noKey.err).toMatch(/^error: no API key/);
    const wrongKey = await squall(['jobs', '--api-key', 'not-the-key-0123456789']);
    expect(wrongKey.code).toBe(1);
    expect(wrongKey.err).toMatch(/^error: a valid API key is required[^\n]*\n$/);
    const missingFile = await squall(['submit', join(dir, 'nope.json')]);
    expect(missingFile.err).toBe(`error: cannot read job file '${join(dir, 'nope.json')}': ENOENT\n`);
  }, 240_000);
});
