// The local Lambda Invoke endpoint through @aws-sdk/client-lambda, as the coordinator will call it: both
// invocation types, warm reuse, Lambda's error shapes (function errors, unknown function, payload limits,
// throttling), timeouts, the memory limit, crashes, and Event retries.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { InvokeCommand, LambdaClient, type InvokeCommandOutput } from '@aws-sdk/client-lambda';
import { lambdaClientConfig } from '../../core/io/object-store.ts';
import { startLocalStack, type EventResult, type LocalStack } from '../../infra/local-stack/index.ts';
import './support.ts';

const H = 'test/infra/handlers/test-handlers.ts';
let stack: LocalStack;
let client: LambdaClient;
const logs: string[] = [];

beforeAll(async () => {
  stack = await startLocalStack({
    logs: (fn, line) => logs.push(`${fn}: ${line}`),
    concurrency: 8,
    eventRetries: 2,
    eventRetryDelayMs: 10,
    functions: {
      echo: { handler: `${H}#echo`, memoryMb: 512 },
      counter: { handler: `${H}#counter` },
      fail: { handler: `${H}#fail` },
      sleep: { handler: `${H}#sleep`, timeoutSeconds: 1 },
      slow: { handler: `${H}#sleep`, reservedConcurrency: 2 },
      crash: { handler: `${H}#crash` },
      hog: { handler: `${H}#hog`, memoryMb: 256 },
      big: { handler: `${H}#big` },
      missingExport: { handler: `${H}#notAFunction` },
    },
  });
  client = new LambdaClient(lambdaClientConfig(stack.endpoints()));
});

afterAll(async () => {
  client?.destroy();
  await stack?.stop();
});

const decode = (p: Uint8Array | undefined) => JSON.parse(new TextDecoder().decode(p)) as Record<string, unknown>;
const invoke = (name: string, payload: unknown, type: 'RequestResponse' | 'Event' = 'RequestResponse'): Promise<InvokeCommandOutput> =>
  client.send(new InvokeCommand({ FunctionName: name, InvocationType: type, Payload: typeof payload === 'string' ? payload : JSON.stringify(payload) }));
/** Whether process `pid` has exited (and been reaped) within two seconds. */
async function gone(pid: number): Promise<boolean> {
  for (const deadline = Date.now() + 2_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 20))) {
    try {
      process.kill(pid, 0);
    } catch {
      return true;
    }
  }
  return false;
}
const serviceError = (p: Promise<unknown>) => p.then(() => null, (e: { name: string; message: string; $metadata?: { httpStatusCode?: number } }) => e);

describe('RequestResponse', () => {
  test('runs the handler with the event and a Lambda context, in an environment pointed at the stack', async () => {
    const r = await invoke('echo', { hello: 'world', n: [1, 2] });
    expect(r.StatusCode).toBe(200);
    expect(r.FunctionError).toBeUndefined();
    expect(r.ExecutedVersion).toBe('$LATEST');
    const body = decode(r.Payload);
    expect(body.event).toEqual({ hello: 'world', n: [1, 2] });
    expect(body.functionName).toBe('echo');
    expect(body.memory).toBe('512');
    expect(body.remainingMs).toBeGreaterThan(15_000);
    expect(body.remainingMs).toBeLessThanOrEqual(20_000);
    expect(body.s3Endpoint).toBe(stack.s3Endpoint);
    expect(body.pid).not.toBe(process.pid);
  });

  test('keeps workers warm and reuses them', async () => {
    const a = decode((await invoke('counter', {})).Payload);
    const b = decode((await invoke('counter', {})).Payload);
    const c = decode((await invoke('counter', {})).Payload);
    expect(b.pid).toBe(a.pid);
    expect(c.pid).toBe(a.pid);
    expect([a.invocations, b.invocations, c.invocations]).toEqual([1, 2, 3]);
    expect(stack.lambda.workers('counter')).toEqual({ total: 1, warm: 1, active: 0 });
  });

  test('a function name given as an ARN or with a qualifier works', async () => {
    const arn = `arn:aws:lambda:${stack.region}:000000000000:function:echo`;
    expect(decode((await invoke(arn, { x: 1 })).Payload).event).toEqual({ x: 1 });
    expect(decode((await invoke('echo:$LATEST', { x: 2 })).Payload).event).toEqual({ x: 2 });
  });

  test("a thrown error is 200 with X-Amz-Function-Error and Lambda's error body; the worker stays warm", async () => {
    const r = await invoke('fail', { message: 'the input is wrong' });
    expect(r.StatusCode).toBe(200);
    expect(r.FunctionError).toBe('Unhandled');
    const body = decode(r.Payload);
    expect(body.errorType).toBe('ValidationError');
    expect(body.errorMessage).toBe('the input is wrong');
    expect(Array.isArray(body.trace)).toBe(true);
    expect((body.trace as string[])[0]).toBe('ValidationError: the input is wrong');
    expect(stack.lambda.workers('fail').warm).toBe(1);
  });

  test('a missing export is Runtime.HandlerNotFound', async () => {
    const r = await invoke('missingExport', {});
    expect(r.FunctionError).toBe('Unhandled');
    expect(decode(r.Payload).errorType).toBe('Runtime.HandlerNotFound');
  });

  test('an unknown function is 404 ResourceNotFoundException', async () => {
    const e = await serviceError(invoke('no-such-function', {}));
    expect(e?.name).toBe('ResourceNotFoundException');
    expect(e?.$metadata?.httpStatusCode).toBe(404);
    expect(e?.message).toContain('function:no-such-function');
  });

  test('payloads: up to 6 MB accepted, over it 413 RequestEntityTooLargeException; invalid JSON 400', async () => {
    const under = JSON.stringify({ pad: 'x'.repeat(6 * 1024 * 1024 - 20) });
    expect(Buffer.byteLength(under)).toBeLessThanOrEqual(6 * 1024 * 1024);
    expect((await invoke('counter', under)).StatusCode).toBe(200);
    const e = await serviceError(invoke('counter', JSON.stringify({ pad: 'x'.repeat(6 * 1024 * 1024) })));
    expect(e?.name).toBe('RequestEntityTooLargeException');
    expect(e?.$metadata?.httpStatusCode).toBe(413);
    const bad = await serviceError(invoke('counter', '{not json'));
    expect(bad?.name).toBe('InvalidRequestContentException');
    expect(bad?.$metadata?.httpStatusCode).toBe(400);
  });

  test('a response over 6 MB is a function error', async () => {
    const r = await invoke('big', { bytes: 7 * 1024 * 1024 });
    expect(r.FunctionError).toBe('Unhandled');
    expect(decode(r.Payload).errorType).toBe('Function.ResponseSizeTooLarge');
  });

  test('a handler that outlives its timeout is killed: "Task timed out after 1.00 seconds"', async () => {
    const warm = decode((await invoke('sleep', { ms: 1 })).Payload);
    const t0 = performance.now();
    const r = await invoke('sleep', { ms: 5_000 });
    const elapsed = performance.now() - t0;
    expect(r.StatusCode).toBe(200);
    expect(r.FunctionError).toBe('Unhandled');
    const body = decode(r.Payload);
    expect(body.errorType).toBe('Sandbox.Timedout');
    expect(body.errorMessage).toMatch(/Task timed out after 1\.00 seconds$/);
    expect(elapsed).toBeGreaterThanOrEqual(990);
    expect(elapsed).toBeLessThan(3_000);
    // The environment was discarded: the old process is gone and the next call starts a new one.
    expect(await gone(warm.pid as number)).toBe(true);
    const after = decode((await invoke('sleep', { ms: 1 })).Payload);
    expect(after.pid).not.toBe(warm.pid);
  });

  test('memory beyond the function size kills the worker: Runtime.OutOfMemory', async () => {
    const small = await invoke('hog', { mb: 16 });
    expect(decode(small.Payload)).toEqual({ allocated: 16 });
    const r = await invoke('hog', { mb: 400 });
    expect(r.FunctionError).toBe('Unhandled');
    expect(decode(r.Payload).errorType).toBe('Runtime.OutOfMemory');
  });

  test('a process that exits mid-invocation is Runtime.ExitError', async () => {
    const r = await invoke('crash', {});
    expect(r.FunctionError).toBe('Unhandled');
    const body = decode(r.Payload);
    expect(body.errorType).toBe('Runtime.ExitError');
    expect(body.errorMessage).toBe('Runtime exited with error: exit status 3');
  });

  test('over the reserved concurrency, calls are throttled at once: 429 TooManyRequestsException', async () => {
    const running = [invoke('slow', { ms: 1_500 }), invoke('slow', { ms: 1_500 })];
    const deadline = Date.now() + 10_000;
    while (stack.lambda.workers('slow').active < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    const e = await serviceError(invoke('slow', { ms: 1 }));
    expect(e?.name).toBe('TooManyRequestsException');
    expect(e?.$metadata?.httpStatusCode).toBe(429);
    const done = await Promise.all(running);
    expect(done.map((r) => decode(r.Payload).slept)).toEqual([1_500, 1_500]);
    // Capacity is back once they finish.
    expect((await invoke('slow', { ms: 1 })).StatusCode).toBe(200);
  });
});

describe('Event', () => {
  test('is accepted with 202 and runs in the background', async () => {
    const results: EventResult[] = [];
    const off = stack.lambda.onEventResult((r) => results.push(r));
    const r = await invoke('echo', { async: true }, 'Event');
    expect(r.StatusCode).toBe(202);
    expect(r.Payload?.length ?? 0).toBe(0);
    await stack.lambda.idle();
    off();
    expect(results.length).toBe(1);
    expect(results[0]!.attempts).toBe(1);
    expect(results[0]!.outcome.ok).toBe(true);
    if (results[0]!.outcome.ok) expect(JSON.parse(results[0]!.outcome.payload).event).toEqual({ async: true });
  });

  test('a failing Event invocation is retried twice, as Lambda does', async () => {
    const results: EventResult[] = [];
    const off = stack.lambda.onEventResult((r) => results.push(r));
    expect((await invoke('fail', { message: 'always' }, 'Event')).StatusCode).toBe(202);
    await stack.lambda.idle();
    off();
    expect(results.length).toBe(1);
    expect(results[0]!.attempts).toBe(3);
    expect(results[0]!.outcome.ok).toBe(false);
    expect(logs.some((l) => l.includes('failed after 3 attempts: ValidationError: always'))).toBe(true);
  });

  test('Event payloads over 256 KB are refused', async () => {
    const e = await serviceError(invoke('echo', { pad: 'x'.repeat(300 * 1024) }, 'Event'));
    expect(e?.name).toBe('RequestEntityTooLargeException');
  });

  test('Events wait for capacity instead of being throttled', async () => {
    const results: EventResult[] = [];
    const off = stack.lambda.onEventResult((r) => results.push(r));
    for (let i = 0; i < 5; i++) expect((await invoke('slow', { ms: 200 }, 'Event')).StatusCode).toBe(202);
    let maxActive = 0;
    const poll = setInterval(() => (maxActive = Math.max(maxActive, stack.lambda.workers('slow').active)), 5);
    await stack.lambda.idle();
    clearInterval(poll);
    off();
    expect(results.length).toBe(5);
    expect(results.every((r) => r.outcome.ok && r.attempts === 1)).toBe(true);
    expect(maxActive).toBeLessThanOrEqual(2);
  });
});
