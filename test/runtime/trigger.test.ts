// S3 triggers: rule parsing (errors name the rule and field), placeholder substitution and its safety rules,
// matching, deterministic job ids and dedup of duplicate notifications; and end to end on the local stack: a
// Parquet file put under incoming/ runs its job once through trigger → coordinator → executor, the report equals
// DuckDB's answer, and the same notification delivered again starts nothing.
import { mkdtemp, rm, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalObjectStore, ObjectStoreError, ObjectStores, S3ObjectStore, lambdaClientConfig } from '../../core/io/object-store.ts';
import { setS3Store } from '../../core/io/s3-file-store.ts';
import { checkJobId } from '../../core/runtime/coordinator.ts';
import type { JobSpec } from '../../core/runtime/job-spec.ts';
import { instantiateJob, matchRule, parseTriggerRules, placeholderValues, type TriggerRules } from '../../core/runtime/trigger-rules.ts';
import { Session } from '../../core/sdk/index.ts';
import { type TriggerDeps, type TriggerSummary, loadRules, processS3Event, triggerJobId } from '../../core/runtime/s3-trigger.ts';
import { type LocalStack, type S3EventRecord, startLocalStack } from '../../infra/local-stack/index.ts';
import { expectSameRows, plain } from '../support/compare.ts';
import '../infra/support.ts';

const REPORT_RULE = {
  id: 'report',
  prefix: 'incoming/',
  suffix: '.parquet',
  job: {
    sql: 'SELECT l_returnflag, count(*) AS n, sum(l_quantity) AS q FROM t GROUP BY l_returnflag',
    tables: { t: { path: '${uri}' } },
    options: { resultUri: 's3://${bucket}/reports/${stem}' },
  },
};

function errorOf(input: unknown): string {
  try {
    parseTriggerRules(input);
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error('expected the rules to be refused');
}

describe('rule parsing', () => {
  it('accepts the documented format', () => {
    const rules = parseTriggerRules(JSON.stringify({ version: 1, rules: [REPORT_RULE, { id: 'any', prefix: '', job: { sql: 'SELECT 1' } }] }));
    expect(rules.rules.map((r) => r.id)).toEqual(['report', 'any']);
  });

  it('errors name the rule and the field', () => {
    expect(errorOf({ version: 2, rules: [] })).toMatch(/at version: version must be 1/);
    expect(errorOf('{ not json')).toMatch(/trigger rules: not JSON/);
    expect(errorOf({ version: 1, rules: [{ id: 'a', job: { sql: 'SELECT 1' } }] })).toMatch(/rule 'a' \(rules\[0\]\) at prefix/);
    expect(errorOf({ version: 1, rules: [{ id: 'bad id!', prefix: 'x/', job: { sql: 'SELECT 1' } }] })).toMatch(/rule 'bad id!' \(rules\[0\]\) at id: rule ids are/);
    expect(errorOf({ version: 1, rules: [REPORT_RULE, { ...REPORT_RULE, job: { ...REPORT_RULE.job, tables: { t: { path: '' } } } }] })).toMatch(
      /rule 'report' \(rules\[1\]\) at job\.tables\.t\.path/,
    );
    expect(errorOf({ version: 1, rules: [{ ...REPORT_RULE, job: { ...REPORT_RULE.job, options: { resultUri: 'x', bogus: 1 } } }] })).toMatch(
      /rule 'report' \(rules\[0\]\) at job\.options/,
    );
    expect(errorOf({ version: 1, rules: [{ id: 'r', prefix: '', job: { tables: {} } }] })).toMatch(/rule 'r' \(rules\[0\]\) at job: a job has exactly one of `sql`, `plan` and `rdd`/);
    expect(errorOf({ version: 1, rules: [REPORT_RULE, REPORT_RULE] })).toMatch(/rules\[1\]\) at id: duplicate rule id 'report'/);
    expect(errorOf({ version: 1, rules: [{ ...REPORT_RULE, job: { ...REPORT_RULE.job, tables: { t: { path: '${file}' } } } }] })).toMatch(
      /rule 'report' \(rules\[0\]\) at job\.tables\.t\.path: unknown placeholder '\$\{file\}'/,
    );
  });

  it('in SQL, placeholders are allowed only inside single-quoted string literals', () => {
    const rule = (sql: string) => ({ version: 1, rules: [{ id: 's', prefix: '', job: { sql } }] });
    expect(() => parseTriggerRules(rule("SELECT '${key}' AS k, 'it''s ${date}' AS d"))).not.toThrow();
    expect(() => parseTriggerRules(rule("SELECT 'a\\'' AS q, '${key}' AS k"))).not.toThrow();
    // A backslash in front of the value would escape its first character (a doubled quote would end the literal).
    expect(errorOf(rule("SELECT 'a\\${key}' AS k"))).toMatch(/at job\.sql: the string literal 'a\\\$\{key\}' holds a placeholder and a backslash/);
    for (const bad of ['SELECT * FROM t WHERE k = ${key}', 'SELECT "${key}" FROM t', "SELECT 'a' -- ${key}\n", "SELECT 'a''' || ${key}", 'SELECT /* ${key} */ 1']) {
      expect(errorOf(rule(bad)), bad).toMatch(/rule 's' \(rules\[0\]\) at job\.sql: placeholder '\$\{key\}' outside a string literal/);
    }
  });
});

describe('placeholders and matching', () => {
  const rules = parseTriggerRules({
    version: 1,
    rules: [
      { id: 'other-bucket', bucket: 'elsewhere', prefix: 'incoming/', job: { sql: 'SELECT 1' } },
      REPORT_RULE,
      { id: 'csv', prefix: 'incoming/', suffix: '.csv', job: { sql: "SELECT '${key}' AS k, '${date}' AS d FROM t", tables: { t: { path: ['${uri}'], format: 'csv' } } } },
      { id: 'plan', prefix: 'plans/', job: { plan: { kind: 'x', files: ['${uri}'], note: "${basename}'; DROP" }, options: { resultUri: 's3://${bucket}/out/${date}/${stem}' } } },
    ],
  });

  it('values of an object', () => {
    expect(placeholderValues('squall', 'incoming/2026/day 1.tar.gz', '2026-11-23T23:59:59.999Z')).toEqual({
      key: 'incoming/2026/day 1.tar.gz',
      uri: 's3://squall/incoming/2026/day 1.tar.gz',
      bucket: 'squall',
      basename: 'day 1.tar.gz',
      stem: 'day 1.tar',
      date: '2026-11-23',
    });
    expect(placeholderValues('b', 'noext').stem).toBe('noext');
    expect(placeholderValues('b', '.hidden').stem).toBe('.hidden');
  });

  it('first rule whose bucket, prefix and suffix match', () => {
    expect(matchRule(rules, 'elsewhere', 'incoming/a.parquet')?.id).toBe('other-bucket');
    expect(matchRule(rules, 'squall', 'incoming/a.parquet')?.id).toBe('report');
    expect(matchRule(rules, 'squall', 'incoming/a.csv')?.id).toBe('csv');
    expect(matchRule(rules, 'squall', 'incoming/a.json')).toBeNull();
    expect(matchRule(rules, 'squall', 'elsewhere/incoming/a.parquet')).toBeNull();
    expect(matchRule(rules, 'squall', 'plans/p.json')?.id).toBe('plan');
  });

  it('substitutes into paths, options, SQL literals and plan strings', () => {
    const report = instantiateJob(matchRule(rules, 'squall', 'incoming/x.parquet')!, placeholderValues('squall', 'incoming/x.parquet'));
    expect(report).toEqual({ ...REPORT_RULE.job, tables: { t: { path: 's3://squall/incoming/x.parquet' } }, options: { resultUri: 's3://squall/reports/x' } });
    const csv = instantiateJob(rules.rules[2]!, placeholderValues('squall', "incoming/o'brien.csv", '2026-01-02T03:04:05Z'));
    expect(csv.sql).toBe("SELECT 'incoming/o''brien.csv' AS k, '2026-01-02' AS d FROM t");
    expect(csv.tables?.t).toEqual({ path: ["s3://squall/incoming/o'brien.csv"], format: 'csv' });
    const plan = instantiateJob(rules.rules[3]!, placeholderValues('squall', 'plans/p q.json', '2026-05-06T00:00:00Z'));
    // Plan strings are JSON values: the quote stays a character of one string.
    expect(plan.plan).toEqual({ kind: 'x', files: ['s3://squall/plans/p q.json'], note: "p q.json'; DROP" });
    expect(plan.options?.resultUri).toBe('s3://squall/out/2026-05-06/p q');
  });

  it('the substituted SQL literal is one value to the parser', async () => {
    const session = Session.local();
    const rule = parseTriggerRules({ version: 1, rules: [{ id: 'k', prefix: '', job: { sql: "SELECT 'a\\'' AS q, '${key}' AS k, '${basename}' || '!' AS b" } }] }).rules[0]!;
    for (const key of ["a'b", "x'); SELECT ('1", "''", "p/'", "x', 'y", 'it is -- not a comment', '/* */', '${key}', 'ünïcødé/ key.parquet']) {
      const job = instantiateJob(rule, placeholderValues('squall', key));
      const rows = await session.sql(job.sql!).collect();
      expect(rows).toEqual([{ q: "a\\'", k: key, b: `${key.slice(key.lastIndexOf('/') + 1)}!` }]);
    }
  });

  it('refuses values that could change the job: backslashes or control characters in SQL, globs in paths', () => {
    const csv = rules.rules[2]!;
    expect(() => instantiateJob(csv, placeholderValues('squall', 'incoming/a\\b.csv'))).toThrow(/rule 'csv': cannot instantiate job\.sql .*\$\{key\} holds a backslash/);
    expect(() => instantiateJob(csv, placeholderValues('squall', 'incoming/a\nb.csv'))).toThrow(/control character/);
    const report = rules.rules[1]!;
    for (const key of ['incoming/*.parquet', 'incoming/a?.parquet', 'incoming/[ab].parquet']) {
      expect(() => instantiateJob(report, placeholderValues('squall', key))).toThrow(/job\.tables\.t\.path .*glob character/);
    }
  });
});

describe('job ids and dedup', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'squall-trigger-'));
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const rules = parseTriggerRules({ version: 1, rules: [REPORT_RULE] });
  const record = (key: string, eTag = 'abc', eventName = 'ObjectCreated:Put') => ({
    eventVersion: '2.1',
    eventSource: 'aws:s3',
    awsRegion: 'us-east-1',
    eventTime: '2026-11-23T12:00:00.000Z',
    eventName,
    s3: { bucket: { name: 'squall', arn: 'arn:aws:s3:::squall' }, object: { key, size: 10, eTag, sequencer: '0055AED6DCD90281E5' } },
  });

  function deps(name: string, over: Partial<TriggerDeps> = {}) {
    const submitted: { jobId: string; job: JobSpec }[] = [];
    const d: TriggerDeps = {
      rules,
      store: new LocalObjectStore(),
      jobsRoot: join(dir, name, 'jobs'),
      claimsRoot: join(dir, name, 'triggers'),
      claimTtlMs: 60_000,
      submit: async (jobId, job) => void submitted.push({ jobId, job }),
      log: () => {},
      ...over,
    };
    return { d, submitted };
  }

  it('job ids are deterministic, valid and distinct per rule, object and version', () => {
    const a = triggerJobId('report', 'squall', 'incoming/x.parquet', 'e:abc');
    expect(a).toMatch(/^trg-report-[0-9a-f]{32}$/);
    expect(checkJobId(a)).toBe(a);
    expect(triggerJobId('report', 'squall', 'incoming/x.parquet', 'e:abc')).toBe(a);
    expect(
      new Set([
        a,
        triggerJobId('report', 'squall', 'incoming/x.parquet', 'e:abd'),
        triggerJobId('report', 'squall', 'incoming/y.parquet', 'e:abc'),
        triggerJobId('report', 'other', 'incoming/x.parquet', 'e:abc'),
        triggerJobId('report2', 'squall', 'incoming/x.parquet', 'e:abc'),
      ]).size,
    ).toBe(5);
    expect(checkJobId(triggerJobId('a'.repeat(48), 'b', 'k', ''))).toHaveLength(4 + 48 + 1 + 32);
  });

  it('the same record twice (one event or two) starts one job; a new version starts another', async () => {
    const { d, submitted } = deps('twice');
    const first = await processS3Event({ Records: [record('incoming/day+1.parquet'), record('incoming/day+1.parquet')] }, d);
    expect(first.submitted).toHaveLength(1);
    expect(first.skipped).toEqual(first.submitted);
    const again = await processS3Event({ Records: [record('incoming/day+1.parquet')] }, d);
    expect(again).toEqual({ submitted: [], skipped: first.submitted, ignored: 0, rejected: [] });
    expect(submitted).toHaveLength(1);
    // The key was decoded ('+' is a space) before it went into the job.
    expect(submitted[0]!.job.tables?.t?.path).toBe('s3://squall/incoming/day 1.parquet');
    expect(submitted[0]!.jobId).toBe(triggerJobId('report', 'squall', 'incoming/day 1.parquet', 'e:abc'));
    const overwritten = await processS3Event({ Records: [record('incoming/day+1.parquet', 'def')] }, d);
    expect(overwritten.submitted).toHaveLength(1);
    expect(overwritten.submitted[0]).not.toBe(first.submitted[0]);
  });

  it('two deliveries at the same moment: reading the claim back lets one submit', async () => {
    // Both see no claim and both write one (a local store, like s3rver, has no conditional put); the claim
    // reads happen after both writes, so only the last writer goes on.
    const inner = new LocalObjectStore();
    let puts = 0;
    let release!: () => void;
    const bothPut = new Promise<void>((r) => (release = r));
    const store = new Proxy(inner, {
      get(target, prop) {
        if (prop === 'put') {
          return async (uri: string, data: string, o?: object) => {
            const r = await target.put(uri, data, o);
            if (uri.includes('/triggers/') && ++puts === 2) release();
            return r;
          };
        }
        if (prop === 'get') {
          return async (uri: string) => {
            if (uri.includes('/triggers/')) await bothPut;
            return target.get(uri);
          };
        }
        const v = Reflect.get(target, prop, target) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    const { d, submitted } = deps('concurrent', { store });
    const [a, b] = await Promise.all([processS3Event({ Records: [record('incoming/c.parquet')] }, d), processS3Event({ Records: [record('incoming/c.parquet')] }, d)]);
    expect(puts).toBe(2);
    expect(submitted).toHaveLength(1);
    expect([...a.submitted, ...b.submitted]).toEqual([submitted[0]!.jobId]);
    expect([...a.skipped, ...b.skipped]).toEqual([submitted[0]!.jobId]);
  });

  it('without permission to write claims, jobs still start (dedup by job record only) and the gap is logged', async () => {
    const inner = new LocalObjectStore();
    const store = new Proxy(inner, {
      get(target, prop) {
        if (prop === 'put') {
          return async (uri: string) => {
            throw new ObjectStoreError(uri, 'PUT', 'AccessDenied', 'Access Denied', 403);
          };
        }
        const v = Reflect.get(target, prop, target) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    const logged: Record<string, unknown>[] = [];
    const { d, submitted } = deps('denied', { store, log: (e) => void logged.push(e) });
    const s = await processS3Event({ Records: [record('incoming/d.parquet')] }, d);
    expect(s.submitted).toHaveLength(1);
    expect(submitted).toHaveLength(1);
    expect(logged.map((e) => e.trigger)).toEqual(['claim_unavailable', 'submitted']);
  });

  it('a failed submit releases its claim, so the retried notification submits', async () => {
    let fail = true;
    const calls: string[] = [];
    const { d } = deps('retry', {
      submit: async (jobId) => {
        calls.push(jobId);
        if (fail) throw new Error('Lambda throttled');
      },
    });
    await expect(processS3Event({ Records: [record('incoming/r.parquet')] }, d)).rejects.toThrow(/throttled/);
    fail = false;
    const retried = await processS3Event({ Records: [record('incoming/r.parquet')] }, d);
    expect(retried.submitted).toEqual([calls[0]]);
    expect(calls).toEqual([calls[0], calls[0]]);
  });

  it('a claim older than its TTL without a job record no longer holds duplicates back', async () => {
    // The claim's age comes from the store's Last-Modified, against the function's clock.
    let skew = 0;
    const { d, submitted } = deps('ttl', { now: () => Date.now() + skew, claimTtlMs: 5_000 });
    await processS3Event({ Records: [record('incoming/t.parquet')] }, d);
    expect((await processS3Event({ Records: [record('incoming/t.parquet')] }, d)).skipped).toHaveLength(1);
    skew = 10_000;
    await processS3Event({ Records: [record('incoming/t.parquet')] }, d);
    expect(submitted.map((s) => s.jobId)).toEqual([submitted[0]!.jobId, submitted[0]!.jobId]);
  });

  it('ignores other events, unmatched keys and job state; refuses bad objects and self-triggering rules', async () => {
    const { d, submitted } = deps('mixed');
    const s = await processS3Event(
      {
        Records: [
          record('incoming/gone.parquet', 'x', 'ObjectRemoved:Delete'),
          record('incoming/notes.txt'),
          { something: 'else' },
          record('incoming/a%5Cb*.parquet'),
          record('incoming/%E0%A4%A.parquet'),
        ],
      },
      d,
    );
    expect(s.submitted).toEqual([]);
    expect(s.ignored).toBe(3);
    expect(s.rejected.map((r) => r.reason)).toEqual([expect.stringMatching(/glob character/), 'malformed key encoding']);
    expect(await processS3Event({ Service: 'Amazon S3', Event: 's3:TestEvent' }, d)).toEqual({ submitted: [], skipped: [], ignored: 0, rejected: [] });

    // A rule watching every .parquet in the bucket, writing its reports into the same bucket, would start a job
    // for each report it writes; job state under the jobs root never starts a job.
    const loop = parseTriggerRules({ version: 1, rules: [{ ...REPORT_RULE, id: 'all', prefix: '' }] });
    const l = deps('loop', { rules: loop, jobsRoot: 's3://squall/jobs', claimsRoot: join(dir, 'loop', 'triggers') });
    const out = await processS3Event({ Records: [record('data/x.parquet'), record('jobs/job-1/result/part-00000.parquet')] }, l.d);
    expect(out.ignored).toBe(1);
    expect(out.rejected).toEqual([{ uri: 's3://squall/data/x.parquet', reason: expect.stringMatching(/result s3:\/\/squall\/reports\/x\/part-00000-trg-all-[0-9a-f]{32}\.parquet would match rule 'all'/) }]);
    expect(submitted).toEqual([]);
    expect(l.submitted).toEqual([]);
  });

  it('rules from an object are re-read only when its ETag changes; inline rules from the environment', async () => {
    const file = join(dir, 'rules.json');
    await writeFile(file, JSON.stringify({ version: 1, rules: [REPORT_RULE] }));
    const stores = new ObjectStores();
    const a = await loadRules(stores, { SQUALL_TRIGGER_RULES: file });
    expect(await loadRules(stores, { SQUALL_TRIGGER_RULES: file })).toBe(a);
    await writeFile(file, JSON.stringify({ version: 1, rules: [{ ...REPORT_RULE, id: 'renamed', prefix: 'in/' }] }));
    const b = await loadRules(stores, { SQUALL_TRIGGER_RULES: file });
    expect(b.rules[0]?.id).toBe('renamed');
    await writeFile(file, '{"version": 1, "rules": [{"id": "x"}]}');
    await expect(loadRules(stores, { SQUALL_TRIGGER_RULES: file })).rejects.toThrow(new RegExp(`${file}: invalid rule 'x' \\(rules\\[0\\]\\) at prefix`));
    await expect(loadRules(stores, { SQUALL_TRIGGER_RULES: join(dir, 'missing.json') })).rejects.toThrow(/do not exist/);
    const inline: TriggerRules = await loadRules(stores, { SQUALL_TRIGGER_RULES_JSON: JSON.stringify({ version: 1, rules: [REPORT_RULE] }) });
    expect(inline.rules[0]?.id).toBe('report');
    await expect(loadRules(stores, { SQUALL_TRIGGER_RULES: file, SQUALL_TRIGGER_RULES_JSON: '{}' })).rejects.toThrow(/not both/);
    await expect(loadRules(stores, { SQUALL_TRIGGER_RULES_JSON: '{"version":1,"rules":[{"id":"y","prefix":"","job":{}}]}' })).rejects.toThrow(
      /SQUALL_TRIGGER_RULES_JSON: invalid rule 'y' \(rules\[0\]\) at job/,
    );
  });
});

describe('end to end on the local stack', () => {
  let stack: LocalStack;
  let store: S3ObjectStore;
  let lambda: LambdaClient;
  let local: string;
  let previousS3: ReturnType<typeof setS3Store>;
  const events: S3EventRecord[] = [];

  beforeAll(async () => {
    local = await mkdtemp(join(tmpdir(), 'squall-trigger-e2e-'));
    stack = await startLocalStack({
      concurrency: 4,
      logs: 'silent',
      functions: {
        executor: { handler: 'functions/executor.ts#handler', timeoutSeconds: 60, memoryMb: 1024 },
        coordinator: { handler: 'functions/coordinator.ts#handler', timeoutSeconds: 120, environment: { SQUALL_EXECUTOR_FUNCTION: 'executor' } },
        trigger: {
          handler: 'functions/trigger.ts#handler',
          timeoutSeconds: 60,
          environment: { SQUALL_TRIGGER_RULES_JSON: JSON.stringify({ version: 1, rules: [REPORT_RULE] }), SQUALL_COORDINATOR_FUNCTION: 'coordinator' },
        },
      },
      notifications: [{ bucket: 'squall', prefix: 'incoming/', suffix: '.parquet', function: 'trigger' }],
    });
    store = S3ObjectStore.fromEndpoints(stack.endpoints());
    previousS3 = setS3Store(store);
    lambda = new LambdaClient({ ...lambdaClientConfig(stack.endpoints()), maxAttempts: 1 });
    stack.s3.onEvent((r) => events.push(r), { prefix: 'incoming/' });
  }, 120_000);

  afterAll(async () => {
    setS3Store(previousS3);
    lambda?.destroy();
    store?.destroy();
    await stack?.stop();
    if (local) await rm(local, { recursive: true, force: true });
  });

  async function invokeTrigger(event: unknown): Promise<TriggerSummary> {
    const out = await lambda.send(new InvokeCommand({ FunctionName: 'trigger', Payload: new TextEncoder().encode(JSON.stringify(event)) }));
    const text = new TextDecoder().decode(out.Payload);
    if (out.FunctionError) throw new Error(`trigger failed: ${text}`);
    return JSON.parse(text) as TriggerSummary;
  }

  it('a Parquet file put under incoming/ runs its job once and writes the report; a duplicate notification runs nothing', async () => {
    const file = join(local, 'lineitem.parquet');
    const instance = await DuckDBInstance.create(':memory:');
    const duck = await instance.connect();
    let expected: ReturnType<typeof plain>[][];
    try {
      await duck.run(
        `COPY (SELECT CASE WHEN i % 7 = 0 THEN 'R' WHEN i % 3 = 0 THEN 'A' ELSE 'N' END AS l_returnflag, (i % 50 + 1)::DECIMAL(12,2) AS l_quantity
               FROM range(5000) r(i)) TO '${file}' (FORMAT parquet)`,
      );
      expected = (await duck.runAndReadAll(`SELECT l_returnflag, count(*) AS n, sum(l_quantity) AS q FROM '${file}' GROUP BY l_returnflag`)).getRows().map((r) => r.map(plain));
    } finally {
      duck.closeSync();
      instance.closeSync();
    }

    // A space in the key: the notification carries it as '+'.
    await store.put('s3://squall/incoming/day 1.parquet', await readFile(file));
    const report = 's3://squall/reports/day 1';
    const deadline = Date.now() + 100_000;
    await stack.lambda.idle();
    while (!(await store.head(`${report}/_SUCCESS`))) {
      if (Date.now() > deadline) throw new Error(`no ${report}/_SUCCESS after 100 s`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const rows = await (await Session.local().read.parquet(report)).collect();
    expectSameRows(
      rows.map((r) => ['l_returnflag', 'n', 'q'].map((c) => plain(r[c]))),
      expected,
    );

    expect(events).toHaveLength(1);
    const record = events[0]!;
    expect(record.s3.object.key).toBe('incoming/day+1.parquet');
    const jobId = triggerJobId('report', 'squall', 'incoming/day 1.parquet', `e:${record.s3.object.eTag!.replace(/"/g, '')}`);
    const runs = async () => {
      const out: string[] = [];
      for await (const e of store.listAll(`s3://squall/jobs/${jobId}/runs/`)) out.push(e.uri);
      return out;
    };
    expect(await runs()).toHaveLength(1);
    expect(await store.head(`s3://squall/jobs/${jobId}/job.json`)).not.toBeNull();
    expect(await store.head(`s3://squall/jobs/_triggers/${jobId}.json`), 'the claim').not.toBeNull();

    // S3 delivers at least once: the same record again (directly to the trigger, and through the queue).
    const again = await invokeTrigger({ Records: [record] });
    expect(again).toEqual({ submitted: [], skipped: [jobId], ignored: 0, rejected: [] });
    stack.lambda.enqueueEvent('trigger', JSON.stringify({ Records: [record] }));
    await stack.lambda.idle();
    expect(await runs()).toHaveLength(1);
    const status = JSON.parse(new TextDecoder().decode(await store.get(`s3://squall/jobs/${jobId}/status.json`))) as { state: string; run: number };
    expect(status).toMatchObject({ state: 'succeeded', run: 0 });
  }, 180_000);
});
