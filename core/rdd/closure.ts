// User functions travel to executors as source text and are re-created there in a fresh context, so a function
// cannot close over the driver's variables. This module checks that when an RDD is built: it parses the
// function's source (acorn), computes the identifiers it reads that are neither its own parameters/locals nor
// JavaScript globals, and rejects the function with an error that names them and shows the supported way (an
// explicit context argument, as Arquero does). Context values must survive structured cloning (v8.serialize).
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { parse } from 'acorn';
import { AnalysisError } from '../types/errors.ts';

/** A user function as shipped to an executor: an expression that evaluates to the function, and its context. */
export interface ShippedFunction {
  /** JavaScript expression text evaluating to the function (the function's own source, line 1 = its first line). */
  readonly source: string;
  /** The operation it was given to (map, filter, reduceByKey...), for error messages. */
  readonly op: string;
  /** The explicit context argument, structured-clone serialized (v8.serialize); null when none was given. */
  readonly context: Uint8Array | null;
}

/** How the function is called, per operation: shown in the error's example. */
const SIGNATURES: Record<string, string> = {
  reduceByKey: '(a, b, ctx) => ...',
  reduce: '(a, b, ctx) => ...',
  fold: '(a, b, ctx) => ...',
  aggregateByKey: '(acc, v, ctx) => ...',
  mapPartitions: '(records, ctx) => ...',
  foreachPartition: '(records, ctx) => ...',
  mapValues: '(v, ctx) => ...',
};

/** Names a fresh executor context provides: the JavaScript built-ins of a new realm. */
const SANDBOX_GLOBALS: ReadonlySet<string> = new Set([
  ...(vm.runInNewContext('Object.getOwnPropertyNames(globalThis)') as string[]),
  'undefined',
  'NaN',
  'Infinity',
  'globalThis',
  // esbuild's keepNames helper (tsx); defined as a no-op in the sandbox.
  '__name',
]);

type Node = { type: string; start: number; end: number; [k: string]: unknown };

/** The names a binding pattern declares (`a`, `{ a, b: [c] }`, `...rest`, `x = 1`). */
function patternNames(p: Node | null | undefined, out: string[]): void {
  if (!p) return;
  switch (p.type) {
    case 'Identifier':
      out.push(p['name'] as string);
      return;
    case 'ObjectPattern':
      for (const prop of p['properties'] as Node[]) patternNames(prop.type === 'RestElement' ? prop : (prop['value'] as Node), out);
      return;
    case 'ArrayPattern':
      for (const el of p['elements'] as (Node | null)[]) patternNames(el, out);
      return;
    case 'RestElement':
      patternNames(p['argument'] as Node, out);
      return;
    case 'AssignmentPattern':
      patternNames(p['left'] as Node, out);
      return;
  }
}

/** Default values and computed keys inside a pattern are expressions that read variables. */
function patternExpressions(p: Node | null | undefined, out: Node[]): void {
  if (!p) return;
  switch (p.type) {
    case 'ObjectPattern':
      for (const prop of p['properties'] as Node[]) {
        if (prop.type === 'RestElement') patternExpressions(prop['argument'] as Node, out);
        else {
          if (prop['computed']) out.push(prop['key'] as Node);
          patternExpressions(prop['value'] as Node, out);
        }
      }
      return;
    case 'ArrayPattern':
      for (const el of p['elements'] as (Node | null)[]) patternExpressions(el, out);
      return;
    case 'RestElement':
      patternExpressions(p['argument'] as Node, out);
      return;
    case 'AssignmentPattern':
      patternExpressions(p['left'] as Node, out);
      out.push(p['right'] as Node);
      return;
    case 'MemberExpression':
      out.push(p);
      return;
  }
}

class Scope {
  readonly names = new Set<string>();
  constructor(readonly parent: Scope | null) {}
  has(name: string): boolean {
    for (let s: Scope | null = this; s; s = s.parent) if (s.names.has(name)) return true;
    return false;
  }
}

/** Hoists `var` and function declarations of a function body (not into nested functions). */
function hoist(node: Node | null | undefined, scope: Scope, top: boolean): void {
  if (!node || typeof node !== 'object') return;
  if (node.type === 'FunctionDeclaration') {
    if (node['id']) scope.names.add((node['id'] as Node)['name'] as string);
    return;
  }
  if (node.type === 'FunctionExpression' || node.type === 'ArrowFunctionExpression' || node.type === 'ClassExpression') return;
  if (node.type === 'ClassDeclaration') {
    if (node['id'] && top) scope.names.add((node['id'] as Node)['name'] as string);
    return;
  }
  if (node.type === 'VariableDeclaration') {
    const names: string[] = [];
    for (const d of node['declarations'] as Node[]) patternNames(d['id'] as Node, names);
    if (node['kind'] === 'var' || top) for (const n of names) scope.names.add(n);
  }
  for (const key of Object.keys(node)) {
    if (key === 'type' || key === 'start' || key === 'end') continue;
    const v = node[key];
    if (Array.isArray(v)) for (const c of v) hoist(c as Node, scope, false);
    else if (v && typeof v === 'object' && typeof (v as Node).type === 'string') hoist(v as Node, scope, false);
  }
}

/** Block-level declarations (let, const, class, functions in blocks) of one statement list. */
function declareBlock(statements: readonly Node[], scope: Scope): void {
  for (const s of statements) {
    if (s.type === 'VariableDeclaration' && s['kind'] !== 'var') {
      const names: string[] = [];
      for (const d of s['declarations'] as Node[]) patternNames(d['id'] as Node, names);
      for (const n of names) scope.names.add(n);
    } else if ((s.type === 'ClassDeclaration' || s.type === 'FunctionDeclaration') && s['id']) {
      scope.names.add((s['id'] as Node)['name'] as string);
    }
  }
}

/** Free identifiers of `node` (an expression or statement) under `scope`, added to `free` in order. */
function visit(node: Node | null | undefined, scope: Scope, free: Map<string, number>): void {
  if (!node || typeof node !== 'object') return;
  switch (node.type) {
    case 'Identifier': {
      const name = node['name'] as string;
      if (!scope.has(name) && !free.has(name)) free.set(name, node.start);
      return;
    }
    case 'FunctionDeclaration':
    case 'FunctionExpression':
    case 'ArrowFunctionExpression': {
      const fnScope = new Scope(scope);
      if (node.type === 'FunctionExpression' && node['id']) fnScope.names.add((node['id'] as Node)['name'] as string);
      if (node.type !== 'ArrowFunctionExpression') fnScope.names.add('arguments');
      const params = node['params'] as Node[];
      const names: string[] = [];
      for (const p of params) patternNames(p, names);
      for (const n of names) fnScope.names.add(n);
      const exprs: Node[] = [];
      for (const p of params) patternExpressions(p, exprs);
      for (const e of exprs) visit(e, fnScope, free);
      const body = node['body'] as Node;
      if (body.type === 'BlockStatement') {
        hoist(body, fnScope, true);
        declareBlock(body['body'] as Node[], fnScope);
        for (const s of body['body'] as Node[]) visit(s, fnScope, free);
      } else visit(body, fnScope, free);
      return;
    }
    case 'ClassDeclaration':
    case 'ClassExpression': {
      const classScope = new Scope(scope);
      if (node['id']) classScope.names.add((node['id'] as Node)['name'] as string);
      visit(node['superClass'] as Node, scope, free);
      for (const m of (node['body'] as Node)['body'] as Node[]) {
        if (m['computed']) visit(m['key'] as Node, classScope, free);
        if (m.type === 'StaticBlock') {
          const block = new Scope(classScope);
          declareBlock(m['body'] as Node[], block);
          for (const s of m['body'] as Node[]) visit(s, block, free);
        } else visit(m['value'] as Node, classScope, free);
      }
      return;
    }
    case 'BlockStatement':
    case 'StaticBlock': {
      const block = new Scope(scope);
      declareBlock(node['body'] as Node[], block);
      for (const s of node['body'] as Node[]) visit(s, block, free);
      return;
    }
    case 'SwitchStatement': {
      visit(node['discriminant'] as Node, scope, free);
      const block = new Scope(scope);
      const cases = node['cases'] as Node[];
      for (const c of cases) declareBlock(c['consequent'] as Node[], block);
      for (const c of cases) {
        visit(c['test'] as Node, block, free);
        for (const s of c['consequent'] as Node[]) visit(s, block, free);
      }
      return;
    }
    case 'ForStatement':
    case 'ForInStatement':
    case 'ForOfStatement': {
      const loop = new Scope(scope);
      const init = (node['init'] ?? node['left']) as Node | null;
      if (init && init.type === 'VariableDeclaration') declareBlock([init], loop);
      for (const key of ['init', 'left', 'test', 'update', 'right', 'body']) visit(node[key] as Node, loop, free);
      return;
    }
    case 'CatchClause': {
      const c = new Scope(scope);
      const names: string[] = [];
      patternNames(node['param'] as Node, names);
      for (const n of names) c.names.add(n);
      visit(node['body'] as Node, c, free);
      return;
    }
    case 'VariableDeclarator': {
      const exprs: Node[] = [];
      patternExpressions(node['id'] as Node, exprs);
      for (const e of exprs) visit(e, scope, free);
      visit(node['init'] as Node, scope, free);
      return;
    }
    case 'UnaryExpression':
      // `typeof x` is how code asks whether a name exists: not a capture.
      if (node['operator'] === 'typeof' && (node['argument'] as Node).type === 'Identifier') return;
      break;
    case 'MemberExpression':
      visit(node['object'] as Node, scope, free);
      if (node['computed']) visit(node['property'] as Node, scope, free);
      return;
    case 'Property':
    case 'PropertyDefinition':
    case 'MethodDefinition':
      if (node['computed']) visit(node['key'] as Node, scope, free);
      // `{ a }` shorthand reads the variable a: its value is the same Identifier node.
      visit(node['value'] as Node, scope, free);
      return;
    case 'LabeledStatement':
      visit(node['body'] as Node, scope, free);
      return;
    case 'BreakStatement':
    case 'ContinueStatement':
    case 'MetaProperty':
    case 'ThisExpression':
    case 'Super':
    case 'Literal':
      return;
    case 'AssignmentExpression': {
      const left = node['left'] as Node;
      if (left.type === 'ObjectPattern' || left.type === 'ArrayPattern') {
        // Destructuring assignment writes to the pattern's names, which must exist: they are reads of scope.
        const names: string[] = [];
        patternNames(left, names);
        for (const n of names) if (!scope.has(n) && !free.has(n)) free.set(n, left.start);
        const exprs: Node[] = [];
        patternExpressions(left, exprs);
        for (const e of exprs) visit(e, scope, free);
      } else visit(left, scope, free);
      visit(node['right'] as Node, scope, free);
      return;
    }
  }
  for (const key of Object.keys(node)) {
    if (key === 'type' || key === 'start' || key === 'end') continue;
    const v = node[key];
    if (Array.isArray(v)) for (const c of v) visit(c as Node, scope, free);
    else if (v && typeof v === 'object' && typeof (v as Node).type === 'string') visit(v as Node, scope, free);
  }
}

/** The function's source as an expression that evaluates to it, and the function's AST node. */
function functionExpression(fn: Function, op: string): { source: string; ast: Node } {
  const text = Function.prototype.toString.call(fn);
  if (/\{\s*\[native code\]\s*\}\s*$/.test(text)) {
    throw new AnalysisError(
      `${op}() got a built-in or bound function (${fn.name || 'anonymous'}), which cannot be shipped to executors as source text; pass an arrow function such as (x) => ${fn.name || 'f'}(x)`,
    );
  }
  const parseExpression = (wrapped: string): Node | null => {
    try {
      const program = parse(wrapped, { ecmaVersion: 'latest', sourceType: 'script' }) as unknown as Node;
      return (program['body'] as Node[])[0]!['expression'] as Node;
    } catch {
      return null;
    }
  };
  // Arrow functions, function expressions and classes parse as they are.
  const plain = parseExpression(`(${text}\n)`);
  if (plain) return { source: `(${text}\n)`, ast: plain };
  // A method's source (`m(x) { ... }`, `*m() {}`) parses only inside an object literal; evaluate to its value.
  const obj = parseExpression(`({${text}\n})`);
  const prop = obj?.type === 'ObjectExpression' ? (obj['properties'] as Node[])[0] : undefined;
  if (prop && prop.type === 'Property') {
    const key = prop['key'] as Node;
    const name = key.type === 'Identifier' ? (key['name'] as string) : String(key['value']);
    return { source: `({${text}\n})[${JSON.stringify(name)}]`, ast: prop['value'] as Node };
  }
  throw new AnalysisError(`${op}(): cannot parse the function's source text to ship it to executors:\n${text}`);
}

/** Free identifiers of the function source that a fresh executor context does not provide, in order of use. */
export function capturedVariables(ast: Node): string[] {
  const free = new Map<string, number>();
  visit(ast, new Scope(null), free);
  return [...free.keys()].filter((n) => !SANDBOX_GLOBALS.has(n));
}

function describeValue(v: unknown): string {
  if (typeof v === 'function') return `a function${(v as Function).name ? ` (${(v as Function).name})` : ''}`;
  if (typeof v === 'symbol') return `a symbol (${String(v)})`;
  if (v && typeof v === 'object') return `an object of class ${(v as object).constructor?.name ?? 'unknown'}`;
  return typeof v;
}

/** The first value under `v` that structured cloning cannot carry (functions, symbols, class instances with private state), by path. */
function unserializablePath(v: unknown, path: string, seen: Set<unknown>): { path: string; value: unknown } | null {
  if (typeof v === 'function' || typeof v === 'symbol') return { path, value: v };
  if (!v || typeof v !== 'object' || seen.has(v)) return null;
  seen.add(v);
  if (v instanceof Map) {
    let i = 0;
    for (const [k, x] of v) {
      const bad = unserializablePath(k, `${path}.keys()[${i}]`, seen) ?? unserializablePath(x, `${path}.get(${JSON.stringify(k) ?? String(k)})`, seen);
      if (bad) return bad;
      i++;
    }
    return null;
  }
  if (v instanceof Set) {
    let i = 0;
    for (const x of v) {
      const bad = unserializablePath(x, `${path}.values()[${i++}]`, seen);
      if (bad) return bad;
    }
    return null;
  }
  if (ArrayBuffer.isView(v) || v instanceof ArrayBuffer || v instanceof Date || v instanceof RegExp) return null;
  for (const k of Object.keys(v)) {
    const bad = unserializablePath((v as Record<string, unknown>)[k], Array.isArray(v) ? `${path}[${k}]` : `${path}.${k}`, seen);
    if (bad) return bad;
  }
  return null;
}

/**
 * Serializes `value` with structured-clone semantics (v8.serialize), or throws an AnalysisError naming the
 * first part that cannot be carried. `what` names the value in the message ("the context of map()").
 */
export function serializeValue(value: unknown, what: string, root = 'ctx'): Uint8Array {
  const bad = unserializablePath(value, root, new Set());
  if (bad) {
    throw new AnalysisError(
      `${what} holds ${describeValue(bad.value)} at ${bad.path}; values passed to executors must be structured-clone serializable (numbers, strings, booleans, bigint, null, arrays, plain objects, Map, Set, Date, typed arrays). Functions and symbols cannot be shipped: pass data, and put the logic in the function itself`,
    );
  }
  try {
    return new Uint8Array(v8.serialize(value));
  } catch (e) {
    throw new AnalysisError(`${what} cannot be serialized for executors (structured clone): ${(e as Error).message}`);
  }
}

/** The documented rejection of a function that captures variables (see README "RDDs and caching"). */
export function captureError(op: string, names: readonly string[]): AnalysisError {
  const list = names.map((n) => `'${n}'`);
  const which = names.length === 1 ? `variable ${list[0]}` : `variables ${list.slice(0, -1).join(', ')} and ${list[list.length - 1]}`;
  const sig = SIGNATURES[op] ?? '(x, ctx) => ...';
  const ctxArg = `{ ${names.join(', ')} }`;
  const uses = `... ${names.map((n) => `ctx.${n}`).join(' ... ')} ...`;
  return new AnalysisError(
    `the function passed to ${op}() uses the ${which} from the surrounding scope, which executors cannot see: ` +
      `functions are shipped as source text and run in a fresh context. Pass the values as the context argument ` +
      `and read them from the function's last parameter, e.g. rdd.${op}(${sig.replace('...', uses)}, ${ctxArg})`,
  );
}

/** A function of Squall's own (no capture check), shipped like a user's. */
export function builtinFunction(source: string, op: string, context?: unknown): ShippedFunction {
  return Object.freeze({ source: `(${source}\n)`, op, context: context === undefined ? null : serializeValue(context, `the context of ${op}()`) });
}

/** Checks and packages a user function for shipping; `context` is the explicit context argument (if any). */
export function shipFunction(fn: unknown, op: string, context?: unknown): ShippedFunction {
  if (typeof fn !== 'function') throw new AnalysisError(`${op}() expects a function, got ${fn === null ? 'null' : typeof fn}`);
  const { source, ast } = functionExpression(fn, op);
  if (ast['async']) throw new AnalysisError(`${op}() got an async function; user functions run synchronously on executors and must return their result, not a Promise`);
  const captured = capturedVariables(ast);
  if (captured.length) throw captureError(op, captured);
  const ctx = context === undefined ? null : serializeValue(context, `the context of ${op}()`);
  return Object.freeze({ source, op, context: ctx });
}
