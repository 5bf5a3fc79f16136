// sst.config.ts loaded without SST: stand-ins for SST's globals ($config, $app, $interpolate, sst.aws.*,
// sst.Secret, aws.*) record every resource the app declares (name and arguments), then `app()` and `run()` are
// called and the declared resources and their wiring are checked. Deploy-time values (ARNs, names) are plain
// strings made from the component's name, so wiring shows up as equal strings.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_CACHE_TTL_HOURS, defaultCacheRoot } from '../../core/cache/s3-cache.ts';
import { pathsForJob } from '../../core/runtime/coordinator.ts';
import { parseTriggerRules } from '../../core/runtime/trigger-rules.ts';
import {
  ABORT_INCOMPLETE_UPLOADS_RULE,
  API_ROUTES,
  DEFAULT_SETTINGS,
  SETTINGS_ENV,
  deploySettings,
} from '../../infra/aws/wiring.ts';
import { INFERENCE_SETTINGS_ENV } from '../../infra/aws/inference.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const ACCOUNT = '123456789012';
const REGION = 'us-east-1';

type Args = Record<string, any>;
interface Recorded {
  readonly type: string;
  readonly name: string;
  readonly args: Args;
}
interface Statement {
  actions: string[];
  resources: string[];
}

let records: Recorded[] = [];

class Bucket {
  readonly name: string;
  readonly arn: string;
  constructor(
    readonly id: string,
    args: Args = {},
  ) {
    records.push({ type: 'Bucket', name: id, args });
    this.name = `${id.toLowerCase()}-bucket-name`;
    this.arn = `arn:aws:s3:::${this.name}`;
  }
  notify(args: Args) {
    records.push({ type: 'BucketNotification', name: `${this.id}Notifications`, args });
    return {};
  }
  subscribe(subscriber: unknown, args: Args = {}) {
    records.push({ type: 'BucketSubscriber', name: this.id, args: { subscriber, ...args } });
    return {};
  }
}

class Fn {
  readonly name: string;
  readonly arn: string;
  constructor(
    readonly id: string,
    args: Args,
  ) {
    records.push({ type: 'Function', name: id, args });
    this.name = typeof args.name === 'string' ? args.name : `squall-test-${id}Function-abcdefgh`;
    this.arn = `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${this.name}`;
  }
  get url() {
    throw new Error(`the stand-in function ${this.id} has no URL: nothing should ask for one`);
  }
}

class ApiGatewayV2 {
  readonly url: string;
  constructor(
    readonly id: string,
    args: Args = {},
  ) {
    records.push({ type: 'ApiGatewayV2', name: id, args });
    this.url = `https://${id.toLowerCase()}.execute-api.${REGION}.amazonaws.com`;
  }
  route(route: string, handler: unknown, args: Args = {}) {
    records.push({ type: 'ApiRoute', name: `${this.id} ${route}`, args: { route, handler, ...args } });
    return {};
  }
  addAuthorizer(args: Args) {
    records.push({ type: 'ApiAuthorizer', name: this.id, args });
    return { id: `${this.id}-authorizer` };
  }
}

class Secret {
  readonly value: string;
  constructor(
    readonly id: string,
    placeholder?: string,
  ) {
    records.push({ type: 'Secret', name: id, args: { placeholder } });
    this.value = `<secret ${id}>`;
  }
}

function unsupported(name: string) {
  return class {
    constructor() {
      throw new Error(`the test's SST stand-ins have no ${name}; add one to test/infra/sst-config.test.ts`);
    }
  };
}

/** A Pulumi `aws.<namespace>.<Class>` stand-in: records `aws.<namespace>.<Class>` with its arguments (and options as `$opts`). */
function awsResource(type: string) {
  return class {
    readonly name: string;
    readonly arn: string;
    readonly id: string;
    readonly dnsName: string;
    readonly arnSuffix: string;
    readonly repositoryUrl: string;
    constructor(name: string, args: Args = {}, opts?: Args) {
      records.push({ type, name, args: opts ? { ...args, $opts: opts } : args });
      const n = name.toLowerCase();
      this.name = `${n}-name`;
      this.arn = `arn:aws:${type.split('.')[1]}:${REGION}:${ACCOUNT}:${n}`;
      this.id = `${n}-id`;
      this.dnsName = `internal-${n}.${REGION}.elb.amazonaws.com`;
      this.arnSuffix = `app/${n}/0123456789`;
      this.repositoryUrl = `${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com/${n}`;
    }
  };
}

/** `aws.<namespace>`: the given data-source functions, and a recording class for any other name. */
function awsNamespace(ns: string, functions: Record<string, unknown> = {}) {
  return new Proxy(functions, { get: (target, key: string) => (key in target ? target[key] : awsResource(`aws.${ns}.${key}`)) });
}

const g = globalThis as Record<string, unknown>;
const INSTALLED = ['$config', '$app', '$interpolate', '$output', '$resolve', '$concat', '$jsonStringify', 'sst', 'aws'];

function installGlobals(stage: string): void {
  g.$config = (c: unknown) => c;
  g.$app = Object.freeze({ name: 'squall', stage, removal: 'remove', protect: false, providers: {} });
  g.$interpolate = (strings: TemplateStringsArray, ...values: unknown[]) =>
    strings.reduce((out, s, i) => out + s + (i < values.length ? String(values[i]) : ''), '');
  g.$concat = (...parts: unknown[]) => parts.map(String).join('');
  g.$output = (v: unknown) => ({ apply: (f: (x: unknown) => unknown) => f(v) });
  g.$resolve = g.$output;
  g.$jsonStringify = (v: unknown) => JSON.stringify(v);
  g.sst = {
    Secret,
    Linkable: unsupported('sst.Linkable'),
    aws: {
      Bucket,
      Function: Fn,
      ApiGatewayV2,
      Cluster: unsupported('sst.aws.Cluster'),
      Service: unsupported('sst.aws.Service'),
      Task: unsupported('sst.aws.Task'),
      Queue: unsupported('sst.aws.Queue'),
    },
  };
  g.aws = {
    getPartitionOutput: () => ({ partition: 'aws' }),
    getRegionOutput: () => ({ id: REGION, name: REGION, region: REGION }),
    getCallerIdentityOutput: () => ({ accountId: ACCOUNT }),
    ec2: awsNamespace('ec2', {
      getVpcOutput: () => ({ id: 'vpc-default', cidrBlock: '172.31.0.0/16' }),
      getSubnetsOutput: () => ({ ids: ['subnet-a', 'subnet-b'] }),
    }),
    ssm: awsNamespace('ssm', { getParameterOutput: (a: { name: string }) => ({ value: `ami-from:${a.name}` }) }),
    ...Object.fromEntries(['ecr', 'cloudwatch', 'ecs', 'iam', 'autoscaling', 'lb', 'appautoscaling'].map((ns) => [ns, awsNamespace(ns)])),
  };
}

interface SstConfig {
  app(input: { stage: string }): Args;
  run(): Promise<Record<string, unknown>>;
}

let config: SstConfig;

async function loadConfig(): Promise<SstConfig> {
  installGlobals('test');
  // A computed specifier: tsc does not follow it into sst.config.ts, whose globals only SST declares.
  const mod = (await import(/* @vite-ignore */ pathToFileURL(resolve(ROOT, 'sst.config.ts')).href)) as { default: SstConfig };
  return mod.default;
}

interface Declared {
  readonly outputs: Record<string, unknown>;
  readonly records: readonly Recorded[];
}

async function runConfig(env: Record<string, string> = {}, stage = 'test'): Promise<Declared> {
  installGlobals(stage);
  records = [];
  const saved = new Map<string, string | undefined>();
  for (const name of [...Object.values(SETTINGS_ENV), ...Object.values(INFERENCE_SETTINGS_ENV)]) {
    saved.set(name, process.env[name]);
    delete process.env[name];
  }
  Object.assign(process.env, env);
  try {
    const outputs = await config.run();
    return { outputs, records };
  } finally {
    for (const [name, v] of saved) {
      if (v === undefined) delete process.env[name];
      else process.env[name] = v;
    }
  }
}

function only(d: Declared, type: string, name?: string): Recorded {
  const found = d.records.filter((r) => r.type === type && (name === undefined || r.name === name));
  expect(found.map((r) => r.name), `${type} ${name ?? ''}`).toHaveLength(1);
  return found[0]!;
}

function fnArn(name: string): string {
  return `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${name}`;
}

function statements(fn: Recorded): Statement[] {
  return (fn.args.permissions ?? []) as Statement[];
}

/** The resources a function may apply `action` to. */
function allowed(fn: Recorded, action: string): string[] {
  return statements(fn).flatMap((s) => (s.actions.includes(action) ? s.resources : []));
}

let d: Declared;
let bucket: Bucket;
let names: Record<'executor' | 'coordinator' | 'api' | 'trigger', { name: string; arn: string }>;

beforeAll(async () => {
  config = await loadConfig();
  d = await runConfig();
  bucket = { name: 'squalldata-bucket-name', arn: 'arn:aws:s3:::squalldata-bucket-name' } as Bucket;
  names = {
    executor: { name: 'squall-test-ExecutorFunction-abcdefgh', arn: fnArn('squall-test-ExecutorFunction-abcdefgh') },
    coordinator: { name: 'squall-test-coordinator', arn: fnArn('squall-test-coordinator') },
    api: { name: 'squall-test-ApiFunction-abcdefgh', arn: fnArn('squall-test-ApiFunction-abcdefgh') },
    trigger: { name: 'squall-test-TriggerFunction-abcdefgh', arn: fnArn('squall-test-TriggerFunction-abcdefgh') },
  };
});

afterAll(() => {
  for (const name of INSTALLED) delete g[name];
});

describe('sst.config.ts', () => {
  it('is an SST app named squall, homed on AWS, retained and protected in production only', () => {
    expect(config.app({ stage: 'dev' })).toMatchObject({ name: 'squall', home: 'aws', removal: 'remove', protect: false });
    expect(config.app({ stage: 'production' })).toMatchObject({ removal: 'retain', protect: true });
  });

  it('declares one bucket, five functions, one HTTP API with its routes, one notification and one secret', () => {
    const counts: Record<string, number> = {};
    for (const r of d.records) if (!r.type.startsWith('aws.')) counts[r.type] = (counts[r.type] ?? 0) + 1;
    expect(counts).toEqual({ Bucket: 1, Function: 5, ApiGatewayV2: 1, ApiRoute: 6, BucketNotification: 1, Secret: 1 });
    expect(d.records.filter((r) => r.type === 'Function').map((r) => r.name).sort()).toEqual(['Api', 'Coordinator', 'Executor', 'InferenceWorker', 'Trigger']);
  });

  it('outputs the API URL and the bucket name', () => {
    expect(d.outputs).toMatchObject({
      api: 'https://squallapi.execute-api.us-east-1.amazonaws.com',
      bucket: bucket.name,
      coordinator: names.coordinator.name,
      executor: names.executor.name,
    });
  });

  it("expires the jobs root, where every job's shuffle data and scratch live, after 2 days", () => {
    const b = only(d, 'Bucket', 'SquallData');
    const rules = b.args.lifecycle as { id: string; prefix: string; expiresIn: string }[];
    expect(rules).toEqual([
      { id: 'expire-job-scratch', prefix: 'jobs/', expiresIn: '2 days' },
      { id: 'expire-cache-entries', prefix: 'cache/', expiresIn: '7 days' },
    ]);
    // The coordinator's jobs root is under the rule's prefix, and so is the shuffle folder it derives for a job.
    const coordinator = only(d, 'Function', 'Coordinator');
    const jobsRoot = coordinator.args.environment.SQUALL_JOBS_ROOT as string;
    expect(jobsRoot).toBe(`s3://${bucket.name}/jobs`);
    const paths = pathsForJob(jobsRoot, 'job-1');
    for (const uri of [paths.shuffleRoot + '/stage-1/part-00/map-0-attempt-0.arrow', paths.resultRoot + '/_temporary/x', paths.jobRoot + '/job.json']) {
      const key = uri.slice(`s3://${bucket.name}/`.length);
      expect(key.startsWith(rules[0]!.prefix), key).toBe(true);
    }
    // Data, results and the watched prefix are not expired.
    for (const key of ['data/t.parquet', 'results/r/part-00000.parquet', 'incoming/x.parquet']) {
      expect(rules.some((r) => key.startsWith(r.prefix)), key).toBe(false);
    }
  });

  it('expires S3 cache entries (under the SDK\'s default cache root) after 7 days, as long as clients serve them', () => {
    const rules = only(d, 'Bucket', 'SquallData').args.lifecycle as { id: string; prefix: string; expiresIn: string }[];
    const rule = rules.find((r) => r.id === 'expire-cache-entries')!;
    const root = defaultCacheRoot({ SQUALL_BUCKET: bucket.name });
    for (const uri of [`${root}/0123456789abcdef-0123456789ab/_cache.json`, `${root}/0123456789abcdef-0123456789ab/part-00000-job-1.parquet`]) {
      expect(uri.slice(`s3://${bucket.name}/`.length).startsWith(rule.prefix), uri).toBe(true);
    }
    expect(rule.expiresIn).toBe(`${DEFAULT_CACHE_TTL_HOURS / 24} days`);
  });

  it("adds a rule aborting incomplete multipart uploads through the bucket's lifecycle transform", () => {
    const b = only(d, 'Bucket', 'SquallData');
    const transform = b.args.transform?.lifecycle as (args: Args) => void;
    expect(typeof transform).toBe('function');
    // What sst.aws.Bucket passes to aws.s3.BucketLifecycleConfiguration for the rule above.
    const args: Args = {
      bucket: bucket.name,
      rules: [{ id: 'expire-job-scratch', status: 'Enabled', expiration: { days: 2 }, filter: { prefix: 'jobs/' } }],
    };
    transform(args);
    expect(args.rules).toHaveLength(2);
    expect(args.rules[0].id).toBe('expire-job-scratch');
    expect(args.rules[1]).toEqual(ABORT_INCOMPLETE_UPLOADS_RULE);
    expect(args.rules[1].abortIncompleteMultipartUpload.daysAfterInitiation).toBe(1);
  });

  it('runs the executor on arm64 with 3008 MB by default and a 15-minute timeout', () => {
    const e = only(d, 'Function', 'Executor');
    expect(e.args).toMatchObject({
      handler: 'functions/executor.handler',
      architecture: 'arm64',
      memory: '3008 MB',
      timeout: '15 minutes',
    });
    expect(['nodejs20.x', 'nodejs22.x']).toContain(e.args.runtime);
    // Decoder threads on every vCPU: the worker bundle is built and shipped, and the decoder pointed at it.
    expect(e.args.environment).toMatchObject({ SQUALL_BUCKET: bucket.name, SQUALL_PARQUET_WORKER: '/var/task/parquet-decode-worker.mjs' });
    expect(e.args.environment.SQUALL_PARQUET_THREADS).toBeUndefined();
    expect(e.args.copyFiles).toEqual([{ from: '.build/workers/parquet-decode-worker.mjs', to: 'parquet-decode-worker.mjs' }]);
    expect(existsSync(join(ROOT, '.build/workers/parquet-decode-worker.mjs'))).toBe(true);
  });

  it('takes the executor memory from SQUALL_EXECUTOR_MEMORY_MB and rejects a bad value naming the variable', async () => {
    const big = await runConfig({ SQUALL_EXECUTOR_MEMORY_MB: '10240' });
    expect(only(big, 'Function', 'Executor').args.memory).toBe('10240 MB');
    await expect(runConfig({ SQUALL_EXECUTOR_MEMORY_MB: '64' })).rejects.toThrow(/SQUALL_EXECUTOR_MEMORY_MB/);
    await expect(runConfig({ SQUALL_EXECUTOR_MEMORY_MB: '3 GB' })).rejects.toThrow(/SQUALL_EXECUTOR_MEMORY_MB/);
  });

  it('gives the coordinator 15 minutes, the names it reads, and the right to invoke the executor and itself', () => {
    const c = only(d, 'Function', 'Coordinator');
    expect(c.args).toMatchObject({ handler: 'functions/coordinator.handler', timeout: '15 minutes', architecture: 'arm64' });
    expect(c.args.name).toBe(names.coordinator.name);
    expect(c.args.environment).toMatchObject({
      SQUALL_EXECUTOR_FUNCTION: names.executor.name,
      SQUALL_BUCKET: bucket.name,
      SQUALL_JOBS_ROOT: `s3://${bucket.name}/jobs`,
    });
    // Its own ARN is built from partition, region, account and the fixed name: the same string Lambda reports.
    const inferenceWorker = fnArn('squall-test-InferenceWorkerFunction-abcdefgh');
    expect(allowed(c, 'lambda:InvokeFunction').sort()).toEqual([names.coordinator.arn, names.executor.arn, inferenceWorker].sort());
    expect(allowed(c, 's3:PutObject')).toEqual([`${bucket.arn}/*`]);
    expect(allowed(c, 's3:GetObject')).toEqual([`${bucket.arn}/*`]);
    expect(allowed(c, 's3:ListBucket')).toEqual([bucket.arn]);
  });

  it('routes POST/GET/DELETE /jobs… of the HTTP API to the one api function', () => {
    only(d, 'ApiGatewayV2', 'SquallApi');
    const routes = d.records.filter((r) => r.type === 'ApiRoute');
    const expected = ['POST /jobs', 'GET /jobs', 'GET /jobs/{id}', 'GET /jobs/{id}/result', 'GET /jobs/{id}/events', 'DELETE /jobs/{id}'];
    expect(routes.map((r) => r.args.route).sort()).toEqual([...expected].sort());
    expect([...API_ROUTES].sort()).toEqual([...expected].sort());
    for (const r of routes) expect(r.args.handler, r.args.route).toBe(names.api.arn);
    const api = only(d, 'Function', 'Api');
    expect(api.args.handler).toBe('functions/api.handler');
    expect(api.args.environment).toMatchObject({
      SQUALL_COORDINATOR_FUNCTION: names.coordinator.name,
      SQUALL_BUCKET: bucket.name,
      SQUALL_API_KEYS: '<secret SquallApiKeys>',
      // Its cost figures use the executor's memory.
      SQUALL_EXECUTOR_MEMORY_MB: '3008',
    });
    expect(only(d, 'Secret').name).toBe('SquallApiKeys');
  });

  it('sends ObjectCreated events under incoming/ to the trigger function', () => {
    const n = only(d, 'BucketNotification');
    const list = n.args.notifications as Args[];
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({ function: names.trigger.arn, events: ['s3:ObjectCreated:*'], filterPrefix: 'incoming/' });
    const t = only(d, 'Function', 'Trigger');
    expect(t.args.handler).toBe('functions/trigger.handler');
    expect(t.args.environment).toMatchObject({
      SQUALL_COORDINATOR_FUNCTION: names.coordinator.name,
      SQUALL_JOBS_ROOT: `s3://${bucket.name}/jobs`,
      SQUALL_TRIGGER_STATE_ROOT: `s3://${bucket.name}/jobs/_triggers`,
      SQUALL_TRIGGER_PREFIX: 'incoming/',
    });
    // Without a rules file the trigger reads its rules from the bucket.
    expect(t.args.environment.SQUALL_TRIGGER_RULES_JSON).toBeUndefined();
  });

  it('watches another prefix when told to, never one overlapping the jobs root', async () => {
    const other = await runConfig({ SQUALL_TRIGGER_PREFIX: 'landing/csv/' });
    expect((only(other, 'BucketNotification').args.notifications as Args[])[0]!.filterPrefix).toBe('landing/csv/');
    await expect(runConfig({ SQUALL_TRIGGER_PREFIX: 'jobs/' })).rejects.toThrow(/SQUALL_TRIGGER_PREFIX/);
    await expect(runConfig({ SQUALL_TRIGGER_PREFIX: 'jobs/in/' })).rejects.toThrow(/overlap/);
    await expect(runConfig({ SQUALL_TRIGGER_PREFIX: 'incoming' })).rejects.toThrow(/ending in '\/'/);
  });

  it('gives the trigger the rules of SQUALL_TRIGGER_RULES_FILE inline, refusing rules it would never see', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'squall-sst-'));
    try {
      const rule = (id: string, prefix: string) => ({
        id,
        prefix,
        suffix: '.parquet',
        job: {
          sql: 'SELECT count(*) AS n FROM t',
          tables: { t: { path: '${uri}' } },
          options: { resultUri: 's3://${bucket}/reports/${stem}' },
        },
      });
      const good = join(dir, 'rules.json');
      writeFileSync(good, JSON.stringify({ version: 1, rules: [rule('daily', 'incoming/daily/')] }, null, 2));
      const withRules = await runConfig({ SQUALL_TRIGGER_RULES_FILE: good });
      const inline = only(withRules, 'Function', 'Trigger').args.environment.SQUALL_TRIGGER_RULES_JSON as string;
      // What functions/trigger.ts will accept.
      expect(parseTriggerRules(inline, 'SQUALL_TRIGGER_RULES_JSON').rules.map((r) => r.id)).toEqual(['daily']);
      expect(inline).not.toContain('\n');

      const outside = join(dir, 'outside.json');
      writeFileSync(outside, JSON.stringify({ version: 1, rules: [rule('elsewhere', 'landing/')] }));
      await expect(runConfig({ SQUALL_TRIGGER_RULES_FILE: outside })).rejects.toThrow(/outside the notified prefix 'incoming\/'/);

      const big = join(dir, 'big.json');
      writeFileSync(big, JSON.stringify({ version: 1, rules: Array.from({ length: 40 }, (_, i) => rule(`r${i}`, 'incoming/')) }));
      await expect(runConfig({ SQUALL_TRIGGER_RULES_FILE: big })).rejects.toThrow(/config\/trigger-rules\.json/);

      const bad = join(dir, 'bad.json');
      writeFileSync(bad, '{"version": 1, "rules": [');
      await expect(runConfig({ SQUALL_TRIGGER_RULES_FILE: bad })).rejects.toThrow(/not JSON/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('grants each function only what it does', () => {
    const fns = d.records.filter((r) => r.type === 'Function');
    for (const f of fns) {
      // `link` to a bucket would grant s3:*; every grant is an explicit statement instead.
      expect(f.args.link, f.name).toBeUndefined();
      for (const s of statements(f)) {
        for (const a of s.actions) expect(a.endsWith('*') || a === '*', `${f.name}: ${a}`).toBe(false);
        for (const r of s.resources) expect(r === '*' || r === 'arn:aws:s3:::*', `${f.name}: ${r}`).toBe(false);
      }
      // Fault injection stays off outside tests.
      expect(Object.keys(f.args.environment ?? {}), f.name).not.toContain('SQUALL_ALLOW_FAULTS');
    }
    const executor = only(d, 'Function', 'Executor');
    const api = only(d, 'Function', 'Api');
    const trigger = only(d, 'Function', 'Trigger');
    // The executor reads and writes the bucket and invokes nothing.
    expect(statements(executor).flatMap((s) => s.actions).filter((a) => a.startsWith('lambda:'))).toEqual([]);
    expect(allowed(executor, 's3:PutObject')).toEqual([`${bucket.arn}/*`]);
    expect(allowed(executor, 's3:GetObject')).toEqual([`${bucket.arn}/*`]);
    // The API reads the bucket, writes only under the jobs root (job record, queued status, owner index, cancel
    // marker), and invokes only the coordinator.
    expect(allowed(api, 's3:GetObject')).toEqual([`${bucket.arn}/*`]);
    expect(allowed(api, 's3:PutObject')).toEqual([`${bucket.arn}/jobs/*`]);
    expect(allowed(api, 's3:DeleteObject')).toEqual([`${bucket.arn}/jobs/*`]);
    expect(allowed(api, 'lambda:InvokeFunction')).toEqual([names.coordinator.arn]);
    // The trigger reads the bucket (rules, job records), writes only its claim markers (where its environment
    // says they are), and invokes only the coordinator.
    expect(allowed(trigger, 's3:GetObject')).toEqual([`${bucket.arn}/*`]);
    const claims = (trigger.args.environment.SQUALL_TRIGGER_STATE_ROOT as string).slice(`s3://${bucket.name}/`.length);
    expect(allowed(trigger, 's3:PutObject')).toEqual([`${bucket.arn}/${claims}/*`]);
    expect(allowed(trigger, 's3:DeleteObject')).toEqual([`${bucket.arn}/${claims}/*`]);
    expect(allowed(trigger, 'lambda:InvokeFunction')).toEqual([names.coordinator.arn]);
    // Only the coordinator may start executors.
    for (const f of fns) {
      if (f.name !== 'Coordinator') expect(allowed(f, 'lambda:InvokeFunction'), f.name).not.toContain(names.executor.arn);
    }
  });

  it('lets executor, coordinator and API read the input buckets named in SQUALL_DATA_BUCKETS, read-only', async () => {
    const withData = await runConfig({ SQUALL_DATA_BUCKETS: 'lake-raw, lake-curated' });
    for (const name of ['Executor', 'Coordinator']) {
      const f = only(withData, 'Function', name);
      expect(allowed(f, 's3:GetObject'), name).toEqual(expect.arrayContaining(['arn:aws:s3:::lake-raw/*', 'arn:aws:s3:::lake-curated/*']));
      expect(allowed(f, 's3:ListBucket'), name).toEqual(expect.arrayContaining(['arn:aws:s3:::lake-raw', 'arn:aws:s3:::lake-curated']));
      expect(allowed(f, 's3:PutObject').filter((r) => r.includes('lake-')), name).toEqual([]);
    }
    // The API compiles submitted jobs, which reads their inputs' Parquet footers; the trigger does not.
    expect(allowed(only(withData, 'Function', 'Api'), 's3:GetObject')).toEqual(expect.arrayContaining(['arn:aws:s3:::lake-raw/*']));
    expect(allowed(only(withData, 'Function', 'Api'), 's3:PutObject').filter((r) => r.includes('lake-'))).toEqual([]);
    expect(allowed(only(withData, 'Function', 'Trigger'), 's3:GetObject').filter((r) => r.includes('lake-'))).toEqual([]);
    await expect(runConfig({ SQUALL_DATA_BUCKETS: 'Not_A_Bucket' })).rejects.toThrow(/SQUALL_DATA_BUCKETS/);
  });

  it('points every handler at a file that exports `handler` (api.ts and trigger.ts may still be in the works)', () => {
    // Written concurrently with this config; until they land, only their paths are checked.
    const pending = new Set(['functions/api.ts', 'functions/trigger.ts']);
    const fns = d.records.filter((r) => r.type === 'Function');
    expect(fns.map((f) => f.args.handler).sort()).toEqual(
      ['functions/api.handler', 'functions/coordinator.handler', 'functions/executor.handler', 'functions/inference-worker.handler', 'functions/trigger.handler'],
    );
    for (const f of fns) {
      const handler = f.args.handler as string;
      const m = /^(.+)\.([A-Za-z_$][\w$]*)$/.exec(handler);
      expect(m, handler).not.toBeNull();
      const file = `${m![1]}.ts`;
      const exportName = m![2]!;
      if (existsSync(resolve(ROOT, file))) {
        const src = readFileSync(resolve(ROOT, file), 'utf8');
        const exported = new RegExp(
          `export\\s+(async\\s+)?function\\s*\\*?\\s*${exportName}\\b|export\\s+(const|let|var)\\s+${exportName}\\b|export\\s*\\{[^}]*\\b${exportName}\\s*(,|\\}|$)`,
        );
        expect(exported.test(src), `${file} exports ${exportName}`).toBe(true);
      } else {
        expect(pending.has(file), `${handler}: ${file} does not exist`).toBe(true);
      }
    }
  });

  it('uses the stage in the fixed coordinator name', async () => {
    const prod = await runConfig({}, 'production');
    const c = only(prod, 'Function', 'Coordinator');
    expect(c.args.name).toBe('squall-production-coordinator');
    expect(allowed(c, 'lambda:InvokeFunction')).toContain(fnArn('squall-production-coordinator'));
  });
});

describe('deploySettings', () => {
  it('has defaults for everything', () => {
    expect(deploySettings({})).toEqual(DEFAULT_SETTINGS);
    expect(DEFAULT_SETTINGS).toMatchObject({ executorMemoryMb: 3008, jobRetentionDays: 2, cacheRetentionDays: 7, triggerPrefix: 'incoming/' });
  });

  it('reads and checks each variable', () => {
    const s = deploySettings({
      SQUALL_EXECUTOR_MEMORY_MB: '1769',
      SQUALL_COORDINATOR_MEMORY_MB: '2048',
      SQUALL_JOB_RETENTION_DAYS: '7',
      SQUALL_CACHE_RETENTION_DAYS: '30',
      SQUALL_TRIGGER_PREFIX: 'drop/',
      SQUALL_DATA_BUCKETS: 'a-bucket,b.bucket',
    });
    expect(s).toEqual({ executorMemoryMb: 1769, coordinatorMemoryMb: 2048, jobRetentionDays: 7, cacheRetentionDays: 30, triggerPrefix: 'drop/', dataBuckets: ['a-bucket', 'b.bucket'] });
    expect(() => deploySettings({ SQUALL_CACHE_RETENTION_DAYS: 'x' })).toThrow(/SQUALL_CACHE_RETENTION_DAYS/);
    expect(() => deploySettings({ SQUALL_EXECUTOR_MEMORY_MB: '20000' })).toThrow(/between 128 and 10240/);
    expect(() => deploySettings({ SQUALL_JOB_RETENTION_DAYS: '0' })).toThrow(/SQUALL_JOB_RETENTION_DAYS/);
    expect(() => deploySettings({ SQUALL_TRIGGER_PREFIX: '/incoming/' })).toThrow(/SQUALL_TRIGGER_PREFIX/);
  });
});

describe('inference workers', () => {
  const byType = (x: Declared, type: string) => x.records.filter((r) => r.type === type);

  it('runs CPU model stages on a Lambda inference worker with onnxruntime-node installed, and GPU ones on ECS EC2 GPU instances that scale to zero', () => {
    const w = only(d, 'Function', 'InferenceWorker');
    expect(w.args).toMatchObject({ handler: 'functions/inference-worker.handler', timeout: '15 minutes', memory: '4096 MB' });
    expect(w.args.nodejs.install).toContain('onnxruntime-node');
    expect(allowed(w, 's3:PutObject')).toEqual([`${bucket.arn}/*`]);
    expect(statements(w).flatMap((s) => s.actions).filter((a) => a.startsWith('lambda:'))).toEqual([]);
    // No instance and no task while idle: the group, the service and its scaling all start at 0.
    const group = only(d, 'aws.autoscaling.Group');
    expect(group.args).toMatchObject({ minSize: 0, desiredCapacity: 0, maxSize: 2 });
    const template = only(d, 'aws.ec2.LaunchTemplate');
    expect(template.args.instanceType).toBe('g4dn.xlarge');
    expect(template.args.imageId).toBe('ami-from:/aws/service/ecs/optimized-ami/amazon-linux-2/gpu/recommended/image_id');
    expect(Buffer.from(template.args.userData as string, 'base64').toString()).toContain('ECS_ENABLE_GPU_SUPPORT=true');
    expect(only(d, 'aws.ecs.CapacityProvider').args.autoScalingGroupProvider.managedScaling).toMatchObject({ status: 'ENABLED', targetCapacity: 100 });
    const service = only(d, 'aws.ecs.Service');
    expect(service.args.desiredCount).toBe(0);
    expect(service.args.$opts).toEqual({ ignoreChanges: ['desiredCount'] });
    expect(only(d, 'aws.appautoscaling.Target').args).toMatchObject({ minCapacity: 0, maxCapacity: 2, scalableDimension: 'ecs:service:DesiredCount' });
    const [out, inn] = ['InferenceScaleOut', 'InferenceScaleIn'].map((n) => only(d, 'aws.appautoscaling.Policy', n).args.stepScalingPolicyConfiguration);
    expect(out.stepAdjustments).toEqual([{ metricIntervalLowerBound: '0', scalingAdjustment: 2 }]);
    expect(inn.stepAdjustments).toEqual([{ metricIntervalUpperBound: '0', scalingAdjustment: 0 }]);
    const alarms = byType(d, 'aws.cloudwatch.MetricAlarm');
    expect(alarms.map((a) => a.name).sort()).toEqual(['InferenceDemand', 'InferenceIdle']);
    // The task wants one GPU and runs the image's GPU build on the worker's port, with the bucket's names.
    const task = only(d, 'aws.ecs.TaskDefinition');
    const [container] = JSON.parse(task.args.containerDefinitions as string) as Args[];
    expect(container!.resourceRequirements).toEqual([{ type: 'GPU', value: '1' }]);
    expect(container!.image).toMatch(/inferenceimage:gpu$/);
    expect(container!.portMappings[0].containerPort).toBe(8080);
    expect(container!.environment).toEqual(expect.arrayContaining([{ name: 'SQUALL_BUCKET', value: bucket.name }, { name: 'SQUALL_INFERENCE_DEVICE', value: 'auto' }]));
    // The coordinator sends model stages to the GPU service's load balancer with the Lambda Invoke API.
    const c = only(d, 'Function', 'Coordinator');
    expect(c.args.environment).toMatchObject({
      SQUALL_INFERENCE_FUNCTION: 'squall-inference-gpu',
      SQUALL_INFERENCE_ENDPOINT: 'http://internal-inferenceloadbalancer.us-east-1.elb.amazonaws.com',
    });
    expect(only(d, 'aws.lb.LoadBalancer').args.internal).toBe(true);
    expect(only(d, 'aws.lb.TargetGroup').args.healthCheck).toEqual({ path: '/health' });
  });

  it('without GPU instances (SQUALL_GPU_MAX_INSTANCES=0) declares no ECS resources and sends model stages to the Lambda worker; rejects a non-GPU instance type', async () => {
    const cpu = await runConfig({ SQUALL_GPU_MAX_INSTANCES: '0' });
    expect(cpu.records.filter((r) => r.type.startsWith('aws.'))).toEqual([]);
    expect(only(cpu, 'Function', 'Coordinator').args.environment.SQUALL_INFERENCE_FUNCTION).toBe('squall-test-InferenceWorkerFunction-abcdefgh');
    expect(only(cpu, 'Function', 'Coordinator').args.environment.SQUALL_INFERENCE_ENDPOINT).toBeUndefined();
    await expect(runConfig({ SQUALL_GPU_INSTANCE_TYPE: 'm5.large' })).rejects.toThrow(/SQUALL_GPU_INSTANCE_TYPE must be a GPU instance type/);
  });
});
