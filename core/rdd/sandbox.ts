// One task's isolated context: a fresh node:vm context holding only JavaScript's built-ins, the task runtime
// (runtime-source.ts) and the user's functions re-created from their source text with their own copies of
// their contexts, plus a `console` that writes to the executor's. Nothing else of the executor's own state
// (modules, process, other tasks' values) is reachable by name. The whole step loop runs under the task's time limit. (node:vm isolates names, not a hostile program:
// it is a correctness boundary, as on Spark's executors, not a security one.)
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { SquallError } from '../types/errors.ts';
import type { ShippedFunction } from './closure.ts';
import type { Step } from './lineage.ts';
import { RUNTIME_SOURCE } from './runtime-source.ts';

/** A user function failed in a task: the message is the user's, with the operation and the function's line. */
export class UserFunctionError extends SquallError {
  constructor(
    message: string,
    /** The operation the function was given to (map, reduceByKey...). */
    readonly op: string,
    /** The line within the function's source (1 = its first line), when the error has a stack. */
    readonly line: number | null,
    /** The user's thrown value. */
    readonly userError: unknown,
    /** The partition whose task failed. */
    readonly partition: number,
  ) {
    super(message);
  }
}

/** A task ran past its time limit. */
export class TaskTimeoutError extends SquallError {}

const runtimeScript = new vm.Script(`(function () {${RUNTIME_SOURCE}\nglobalThis.__runSteps = __runSteps;\nglobalThis.__squall = Object.freeze({ compare: __compare, keyOf: __keyOf });\n})();`, { filename: 'squall-task-runtime.js' });

/**
 * Built-ins a user function sees as parameters of a wrapper on its first line, so that it does not look them up
 * through the context's (slow) global interceptors on every call; line numbers are unchanged.
 */
const LOCAL_BUILTINS = ['Math', 'JSON', 'Object', 'Array', 'Number', 'String', 'Boolean', 'Map', 'Set', 'Date', 'RegExp', 'Error', 'TypeError', 'RangeError', 'parseInt', 'parseFloat', 'isNaN', 'isFinite', 'BigInt', 'Symbol'];
const WRAP_PREFIX = `(function (${LOCAL_BUILTINS.join(', ')}) { "use strict"; return `;
const WRAP_SUFFIX = `; })(${LOCAL_BUILTINS.join(', ')})`;
const runScript = new vm.Script('__runSteps(__task.records, __task.steps, __task.partition)', { filename: 'squall-task.js' });

/** The host's copy of the runtime helpers (the same code the sandbox runs), for partitioning on the driver. */
export const hostRuntime = vm.runInThisContext(`(function () {${RUNTIME_SOURCE}\nreturn { keyOf: __keyOf, hash: __hash, compare: __compare }; })()`, {
  filename: 'squall-host-runtime.js',
}) as { keyOf(v: unknown): string; hash(s: string): number; compare(a: unknown, b: unknown): number };

const USER_FILE = /squall-user\/([A-Za-z]+)-(\d+)\.js:(\d+):(\d+)/;

export interface SandboxOptions {
  /** Milliseconds one task's steps may run (Lambda's 15 minutes by default). */
  timeoutMs?: number;
}

function errorMessage(e: unknown): string {
  if (e && typeof e === 'object' && 'message' in e) {
    const name = 'name' in e && typeof e.name === 'string' && e.name !== 'Error' ? `${e.name}: ` : '';
    return `${name}${String((e as { message: unknown }).message)}`;
  }
  return String(e);
}

/**
 * What user code's `console` writes to: the executor's own console (V8's built-in one in a vm context prints
 * nothing). The only host object a task can name.
 */
function taskConsole(): Record<string, (...args: unknown[]) => void> {
  return {
    log: (...a) => console.log(...a),
    info: (...a) => console.info(...a),
    warn: (...a) => console.warn(...a),
    error: (...a) => console.error(...a),
    debug: (...a) => console.debug(...a),
  };
}

/** Runs `steps` over `records` (partition `partition`) in a fresh context. */
export function runTask(records: readonly unknown[], steps: readonly Step[], partition: number, options: SandboxOptions = {}): unknown[] {
  const context = vm.createContext({ console: taskConsole() });
  runtimeScript.runInContext(context);
  const fns: ShippedFunction[] = [];
  const compiled = steps.map((s) => {
    const out: Record<string, unknown> = { ...s };
    if ('fn' in s) {
      const index = fns.push(s.fn) - 1;
      out['fn'] = new vm.Script(WRAP_PREFIX + s.fn.source + WRAP_SUFFIX, { filename: `squall-user/${s.fn.op}-${index}.js` }).runInContext(context);
      out['ctx'] = s.fn.context ? v8.deserialize(s.fn.context) : undefined;
    }
    if (s.op === 'rangeBucket') out['boundKeys'] = v8.deserialize(s.bounds);
    if ('zero' in s) {
      out['hasZero'] = s.zero !== null;
      out['zero'] = s.zero ? v8.deserialize(s.zero) : undefined;
    }
    return out;
  });
  (context as Record<string, unknown>)['__task'] = { records, steps: compiled, partition };
  const timeout = options.timeoutMs ?? 900_000;
  try {
    return runScript.runInContext(context, { timeout }) as unknown[];
  } catch (e) {
    if (e && typeof e === 'object' && '__squallStep' in e) {
      const step = steps[(e as { __squallStep: number }).__squallStep]!;
      throw userError((e as unknown as { error: unknown }).error, step, fns, partition);
    }
    if (e && typeof e === 'object' && (e as { code?: string }).code === 'ERR_SCRIPT_EXECUTION_TIMEOUT') {
      throw new TaskTimeoutError(`task for partition ${partition} ran longer than its limit of ${timeout} ms (in ${steps.map((s) => ('fn' in s ? s.fn.op : s.op)).join(' → ')})`);
    }
    throw e;
  }
}

function userError(e: unknown, step: Step, fns: readonly ShippedFunction[], partition: number): UserFunctionError {
  const stack = e && typeof e === 'object' && 'stack' in e ? String((e as { stack: unknown }).stack) : '';
  const m = USER_FILE.exec(stack);
  const fn = m ? fns[Number(m[2])] : 'fn' in step ? step.fn : undefined;
  const op = fn?.op ?? ('name' in step ? step.name : step.op);
  const line = m ? Number(m[3]) : null;
  let where = '';
  if (fn && line !== null) {
    // The source is the function's text wrapped in `(` … `)`: line 1 is the function's first line.
    const text = fn.source.split('\n')[line - 1]?.replace(/^\(\{?/, '').trim();
    where = ` (line ${line} of the function${text ? `: ${text.length > 120 ? text.slice(0, 117) + '...' : text}` : ''})`;
  }
  const what = fn ? `the function passed to ${op}() threw` : `${op}() failed`;
  return new UserFunctionError(`${what}: ${errorMessage(e)}${where}`, op, line, e, partition);
}

/**
 * One user function re-created from its source in a fresh context of its own, for callers that call it
 * themselves (SQL and DataFrame UDFs, core/expr/udf.ts), with the same wrapper as RDD steps so a thrown error
 * maps back to the line of the function. `describe(e)` turns a thrown value into the user's message and line.
 */
export function instantiateFunction(fn: ShippedFunction): { readonly fn: (...args: unknown[]) => unknown; readonly context: unknown; describe(e: unknown): string } {
  const context = vm.createContext({ console: taskConsole() });
  const created = new vm.Script(WRAP_PREFIX + fn.source + WRAP_SUFFIX, { filename: `squall-user/${fn.op}-0.js` }).runInContext(context) as (...args: unknown[]) => unknown;
  return {
    fn: created,
    context: fn.context ? v8.deserialize(fn.context) : undefined,
    describe: (e) => {
      const stack = e && typeof e === 'object' && 'stack' in e ? String((e as { stack: unknown }).stack) : '';
      const m = USER_FILE.exec(stack);
      const line = m ? Number(m[3]) : null;
      const text = line !== null ? fn.source.split('\n')[line - 1]?.replace(/^\(\{?/, '').trim() : undefined;
      const where = line !== null ? ` (line ${line} of the function${text ? `: ${text.length > 120 ? text.slice(0, 117) + '...' : text}` : ''})` : '';
      return `${errorMessage(e)}${where}`;
    },
  };
}
