// Code generation: one expression tree → the JavaScript source of a kernel that loops over a whole batch.
//
// The kernel is `function (cols, n, k, lib)`: `cols` are the Arrow Data of the referenced columns, `k` the
// constants (literals, messages, matchers), `lib` the helper library (./runtime.ts). Each node emits statements
// into the loop body and answers with a JS expression for its value plus a description of its validity:
//  - `bits`: input validity bitmaps that must all be set (null propagation), combined 32 rows at a time outside
//    the loop;
//  - `rows`: per-row boolean expressions, for constructs with their own null semantics (AND/OR, CASE, COALESCE,
//    division by zero, IN with NULLs...).
// Values are computed for every row regardless of validity; checks that raise errors (overflow, bad casts) fire
// only for valid rows. Lazy constructs (AND/OR, CASE, COALESCE) evaluate their later operands inside branches.
//
// In-loop representations: bool → JS boolean; int32/int64/float64/date32/timestamp → number (int64 and
// timestamp exact within ±2^53); decimal → its unscaled integer as a number; utf8 → string.
import { type DataType, DataTypes, isIntegral, typeEquals, typeToString } from '../types/data-type.ts';
import { AnalysisError, UnsupportedError } from '../types/errors.ts';
import type { Schema } from '../types/schema.ts';
import { resolveField } from '../types/schema.ts';
import { MAX_SAFE, POW10 } from './cast.ts';
import { MICROS_PER_DAY, parseDate, parseTimestamp } from './dates.ts';
import { type Expr, type LiteralValue, binary, exprToString, not, visit } from './expr.ts';
import { compileLike } from './like.ts';
import type { DictionaryEvaluator } from './runtime.ts';
import { arithmeticType, comparisonType, literalIntArg, literalStringArg, typeOf, DATE_DIFF_UNITS, EXTRACT_FIELDS } from './type-of.ts';

/** How a column is laid out in the batch at hand; kernels are specialised (and cached) per layout. */
export interface ColumnLayout {
  readonly dictionary: boolean;
  readonly nulls: boolean;
}

/**
 * `arrow`: write the output in the column's Arrow layout; `internal`: write numbers to a Float64Array, bools to
 * a Uint8Array and strings to an array (for per-dictionary-entry results); `select`: write the indices of the
 * rows where a bool expression is TRUE (into the kernel's `buf` argument when it is large enough, returning a
 * view of it; otherwise into a new array).
 */
export type KernelMode = 'arrow' | 'internal' | 'select';

export interface KernelSource {
  readonly source: string;
  readonly consts: readonly unknown[];
  /** Input column indices, in the order the kernel receives them in `cols`. */
  readonly columns: readonly number[];
  readonly outType: DataType;
}

/** Builds the evaluator of a subexpression over one dictionary's entries (supplied by compile.ts). */
export type SubCompiler = (e: Expr, column: number) => DictionaryEvaluator;

interface Valid {
  readonly bits: readonly string[];
  readonly rows: readonly string[];
}
interface Val {
  readonly code: string;
  readonly valid: Valid;
  readonly type: DataType;
}

const ALWAYS: Valid = { bits: [], rows: [] };
const NEVER: Valid = { bits: [], rows: ['false'] };

function merge(...vs: Valid[]): Valid {
  const bits = new Set<string>();
  const rows: string[] = [];
  for (const v of vs) {
    for (const b of v.bits) bits.add(b);
    for (const r of v.rows) if (!rows.includes(r)) rows.push(r);
  }
  return { bits: [...bits], rows };
}

const bitAt = (m: string, i = 'i') => `((${m}[${i} >> 3] >> (${i} & 7)) & 1) === 1`;

function validCode(v: Valid): string {
  const parts = [...v.bits.map((b) => bitAt(b)), ...v.rows];
  return parts.length === 0 ? 'true' : parts.join(' && ');
}

const isTrivial = (v: Valid) => v.bits.length === 0 && v.rows.length === 0;

function defaultValue(t: DataType): string {
  return t.kind === 'bool' ? 'false' : t.kind === 'utf8' ? "''" : '0';
}

const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;

/** Node kinds and functions that cannot raise errors, so they may be evaluated over a whole dictionary. */
const DICTIONARY_SAFE_FNS = new Set([
  'upper', 'lower', 'length', 'substring', 'concat', 'trim', 'ltrim', 'rtrim', 'starts_with', 'ends_with', 'contains', 'replace', 'coalesce',
]);

function dictionarySafe(e: Expr): boolean {
  let ok = true;
  visit(e, (n) => {
    switch (n.kind) {
      case 'column':
      case 'literal':
      case 'alias':
      case 'not':
      case 'is_null':
      case 'case':
      case 'in':
      case 'between':
      case 'like':
        return true;
      case 'binary':
        if (n.op === 'and' || n.op === 'or' || n.op === '=' || n.op === '!=' || n.op === '<' || n.op === '<=' || n.op === '>' || n.op === '>=') return true;
        break;
      case 'cast':
        if (n.to.kind === 'utf8') return true;
        break;
      case 'call':
        if (DICTIONARY_SAFE_FNS.has(n.fn)) return true;
        break;
      default:
        break;
    }
    ok = false;
    return false;
  });
  return ok;
}

class Generator {
  private readonly prelude: string[] = [];
  readonly consts: unknown[] = [];
  private readonly constIndex = new Map<unknown, number>();
  readonly columns: number[] = [];
  private readonly slots = new Map<number, number>();
  private readonly boundColumns = new Set<string>();
  private tmpCount = 0;
  /** Generating a fused aggregation kernel (see finishFused). */
  private fused = false;
  /** Fused kernels: the loop body's top level, and the subexpressions emitted there. */
  private top: string[] | null = null;
  private readonly memo = new Map<string, Val>();
  private readonly types = new Map<Expr, DataType>();

  constructor(
    private readonly input: Schema,
    private readonly layout: (column: number) => ColumnLayout,
    private readonly sub: SubCompiler | null,
  ) {}

  typeOf(e: Expr): DataType {
    let t = this.types.get(e);
    if (!t) {
      t = typeOf(e, this.input);
      this.types.set(e, t);
    }
    return t;
  }

  tmp(prefix = 't'): string {
    return `${prefix}${this.tmpCount++}`;
  }

  konst(value: unknown): string {
    // Primitive constants are shared; objects (Sets, RegExps, evaluators) get their own slot.
    const key = typeof value === 'object' || typeof value === 'function' ? undefined : `${typeof value}:${String(value)}`;
    let idx = key !== undefined ? this.constIndex.get(key) : undefined;
    if (idx === undefined) {
      idx = this.consts.length;
      this.consts.push(value);
      if (key !== undefined) this.constIndex.set(key, idx);
      this.prelude.push(`const k${idx} = k[${idx}];`);
    }
    return `k${idx}`;
  }

  private slot(column: number): number {
    let j = this.slots.get(column);
    if (j === undefined) {
      j = this.columns.length;
      this.columns.push(column);
      this.slots.set(column, j);
      if (this.layout(column).nulls) this.prelude.push(`const m${j} = cols[${j}].nullBitmap;`);
    }
    return j;
  }

  private bindOnce(name: string, line: string): void {
    if (!this.boundColumns.has(name)) {
      this.boundColumns.add(name);
      this.prelude.push(line);
    }
  }

  /** Keep `code` in a temp so it is evaluated once (plain names and literals pass through). */
  bind(out: string[], code: string): string {
    if (/^[A-Za-z_$][\w$]*$/.test(code) || /^-?\d+(\.\d+)?$/.test(code)) return code;
    const t = this.tmp();
    out.push(`const ${t} = ${code};`);
    return t;
  }

  /** Raise `message` when `cond` holds on a row where the value is valid. `beyondDouble` marks errors that
   * only mean the value left the range a double holds exactly (the exact fallback may then take over). */
  failIf(out: string[], cond: string, valid: Valid, message: string, beyondDouble = false): void {
    const m = this.konst(message);
    const v = validCode(valid);
    const fail = beyondDouble ? 'lib.failBeyondDouble' : 'lib.fail';
    out.push(v === 'true' ? `if (${cond}) ${fail}(${m});` : `if ((${cond}) && ${v}) ${fail}(${m});`);
  }

  checkSafe(out: string[], code: string, valid: Valid, what: string, e: Expr): string {
    const t = this.bind(out, code);
    this.failIf(out, `${t} > ${MAX_SAFE} || ${t} < -${MAX_SAFE}`, valid, `${what} overflow beyond 2^53 in ${exprToString(e)}`, true);
    return t;
  }

  checkInt32(out: string[], code: string, valid: Valid, e: Expr): string {
    const t = this.bind(out, code);
    this.failIf(out, `(${t} | 0) !== ${t}`, valid, `int32 overflow in ${exprToString(e)}`);
    return t;
  }

  checkDecimal(out: string[], code: string, valid: Valid, t: DataType & { kind: 'decimal' }, e: Expr): string {
    const v = this.bind(out, code);
    const limit = Math.min(POW10[t.precision]!, MAX_SAFE + 1);
    const beyondDouble = POW10[t.precision]! > MAX_SAFE + 1;
    this.failIf(out, `${v} >= ${limit} || ${v} <= -${limit}`, valid, `${typeToString(t)} overflow${beyondDouble ? ' beyond 2^53' : ''} in ${exprToString(e)}`, beyondDouble);
    return v;
  }

  // ---- expressions ----

  emit(e: Expr, out: string[]): Val {
    // Fused kernels compute each distinct subexpression once per row where it is evaluated unconditionally
    // (at the top level of the loop body; lazily evaluated operands are emitted into nested blocks).
    if (this.top !== null && out === this.top && e.kind !== 'literal' && e.kind !== 'alias') {
      const key = JSON.stringify(e);
      let v = this.memo.get(key);
      if (!v) {
        v = this.emitNode(e, out);
        this.memo.set(key, v);
      }
      return v;
    }
    return this.emitNode(e, out);
  }

  private emitNode(e: Expr, out: string[]): Val {
    if (this.sub && e.kind !== 'column' && e.kind !== 'alias' && e.kind !== 'literal') {
      const dict = this.dictionaryColumn(e);
      if (dict !== null) return this.emitDictionary(e, dict, out);
    }
    switch (e.kind) {
      case 'column':
        return this.emitColumn(e, out);
      case 'literal':
        return this.emitLiteral(e.value, e.type);
      case 'alias':
        return this.emit(e.input, out);
      case 'binary':
        return this.emitBinary(e, out);
      case 'not': {
        const v = this.emit(e.input, out);
        return { code: `!${v.code}`, valid: v.valid, type: DataTypes.bool };
      }
      case 'negate': {
        const t = this.typeOf(e);
        const v = this.coerce(this.emit(e.input, out), t, out, e);
        if (t.kind === 'int32') return { code: this.checkInt32(out, `(0 - ${v.code})`, v.valid, e), valid: v.valid, type: t };
        return { code: `(-${v.code})`, valid: v.valid, type: t };
      }
      case 'is_null': {
        // A column's validity is known without reading its values (which also lets vectors be tested).
        const inner = e.input.kind === 'alias' ? e.input.input : e.input;
        const v = inner.kind === 'column' ? this.columnValidity(inner) : this.emit(e.input, out);
        const valid = validCode(v.valid);
        return { code: e.negated ? `(${valid})` : `!(${valid})`, valid: ALWAYS, type: DataTypes.bool };
      }
      case 'cast':
        return this.emitCast(e, out);
      case 'case':
        return this.emitCase(e, out);
      case 'in':
        return this.emitIn(e, out);
      case 'between': {
        const both = binary('and', binary('<=', e.low, e.input), binary('<=', e.input, e.high));
        return this.emit(e.negated ? not(both) : both, out);
      }
      case 'like': {
        const v = this.emit(e.input, out);
        const m = compileLike(e.pattern, e.caseInsensitive);
        const s = e.caseInsensitive ? `${v.code}.toLowerCase()` : v.code;
        let code: string;
        switch (m.kind) {
          case 'equals':
            code = `(${s} === ${this.konst(m.text)})`;
            break;
          case 'prefix':
            code = `${s}.startsWith(${this.konst(m.text)})`;
            break;
          case 'suffix':
            code = `${s}.endsWith(${this.konst(m.text)})`;
            break;
          case 'contains':
            code = `${s}.includes(${this.konst(m.text)})`;
            break;
          case 'any':
            code = 'true';
            break;
          case 'regexp':
            code = `${this.konst(m.re)}.test(${s})`;
            break;
        }
        return { code: e.negated ? `!${code}` : code, valid: v.valid, type: DataTypes.bool };
      }
      case 'call':
        return this.emitCall(e, out);
      case 'aggregate':
        throw new AnalysisError(`aggregate ${exprToString(e)} cannot be evaluated row by row; use it in an aggregation (groupBy/agg)`);
      case 'window':
        // The planner computes window expressions with WindowExec and never sends one here.
        throw new AnalysisError(`internal: window expression ${exprToString(e)} reached the expression compiler; it must be planned as a Window node`);
      case 'udf':
        // ./compile.ts evaluates UDF calls row by row before the kernel runs and hands their values in as columns.
        throw new AnalysisError(`internal: user function ${exprToString(e)} reached the kernel generator; compile.ts must evaluate it first`);
      case 'model_call':
        throw new AnalysisError(`model function ${e.name}() can only be used in a SELECT list or a WHERE clause (it runs as its own plan step), not in ${exprToString(e)} here`);
    }
  }

  /** The one dictionary-encoded column `e` depends on, if `e` can be evaluated once per dictionary entry. */
  private dictionaryColumn(e: Expr): number | null {
    const refs = new Set<number>();
    visit(e, (n) => {
      if (n.kind === 'column') refs.add(resolveField(this.input, n.name, n.qualifier, n.index));
    });
    if (refs.size !== 1) return null;
    // IS NULL of a column reads its bitmap; no need to go through the dictionary.
    if (e.kind === 'is_null' && (e.input.kind === 'column' || (e.input.kind === 'alias' && e.input.input.kind === 'column'))) return null;
    const c = refs.values().next().value!;
    if (!this.layout(c).dictionary || !dictionarySafe(e)) return null;
    return c;
  }

  private emitDictionary(e: Expr, column: number, out: string[]): Val {
    const t = this.typeOf(e);
    const j = this.slot(column);
    const evaluator = this.konst(this.sub!(e, column));
    const d = this.tmp('d');
    this.bindOnce(`q${j}`, `const q${j} = cols[${j}].values;`);
    this.prelude.push(`const ${d} = lib.dictEval(cols[${j}], ${evaluator});`, `const ${d}v = ${d}.values, ${d}m = ${d}.validity;`);
    const x = this.tmp('x');
    out.push(this.layout(column).nulls ? `const ${x} = ${bitAt(`m${j}`)} ? q${j}[i] : ${d}.nullIndex;` : `const ${x} = q${j}[i];`);
    const code = t.kind === 'bool' ? `(${d}v[${x}] === 1)` : t.kind === 'utf8' ? `(${d}v[${x}] ?? '')` : `${d}v[${x}]`;
    return { code, valid: { bits: [], rows: [`(${d}m === null || ${bitAt(`${d}m`, x)})`] }, type: t };
  }

  private columnValidity(e: Expr & { kind: 'column' }): Val {
    const idx = resolveField(this.input, e.name, e.qualifier, e.index);
    const j = this.slot(idx);
    const t = this.input.fields[idx]!.type;
    return { code: '0', valid: t.kind === 'null' ? NEVER : this.layout(idx).nulls ? { bits: [`m${j}`], rows: [] } : ALWAYS, type: t };
  }

  private emitColumn(e: Expr & { kind: 'column' }, out: string[]): Val {
    const idx = resolveField(this.input, e.name, e.qualifier, e.index);
    const f = this.input.fields[idx]!;
    const j = this.slot(idx);
    const valid: Valid = this.layout(idx).nulls ? { bits: [`m${j}`], rows: [] } : ALWAYS;
    const c = `c${j}`;
    const t = f.type;
    switch (t.kind) {
      case 'int32':
      case 'date32':
      case 'float64':
        this.bindOnce(c, `const ${c} = cols[${j}].values;`);
        return { code: `${c}[i]`, valid, type: t };
      case 'bool':
        this.bindOnce(c, `const ${c} = cols[${j}].values;`);
        return { code: `(${bitAt(c)})`, valid, type: t };
      case 'utf8':
        this.bindOnce(c, `const ${c} = lib.strings(cols[${j}]);`);
        return { code: `(${c}[i] ?? '')`, valid, type: t };
      case 'int64':
      case 'timestamp':
      case 'decimal': {
        this.bindOnce(c, `const ${c} = lib.words(cols[${j}]);`);
        const h = this.tmp('h');
        out.push(`const ${h} = ${c}[2 * i + 1];`);
        // Values beyond ±2^53 would silently lose precision as doubles: refuse them (valid rows only).
        if (t.kind !== 'decimal' || t.precision > 15) {
          const beyond = `${h} > 2097151 || ${h} < -2097152`;
          // In a fused aggregation this hands the rows to the caller's exact path (which may not need doubles).
          this.failIf(out, beyond, valid, `value of ${typeToString(t)} column '${f.name}' is beyond ±2^53, which Squall computes exactly only within that range`, this.fused);
        }
        const v = this.tmp();
        out.push(`const ${v} = ${h} * 4294967296 + (${c}[2 * i] >>> 0);`);
        return { code: v, valid, type: t };
      }
      case 'null':
        return { code: '0', valid: NEVER, type: t };
      case 'vector':
        throw new UnsupportedError(
          `vector column '${f.name}' can only be selected or tested with IS NULL; compute on vectors with the ml functions`,
        );
    }
  }

  private emitLiteral(value: LiteralValue, t: DataType): Val {
    if (value === null) return { code: defaultValue(t), valid: NEVER, type: t };
    if (t.kind === 'vector' || Array.isArray(value)) throw new UnsupportedError('vector literals cannot be used in expressions');
    if (typeof value === 'boolean') return { code: String(value), valid: ALWAYS, type: t };
    return { code: this.konst(value), valid: ALWAYS, type: t };
  }

  /** Convert a value to type `to` for an implicit coercion (see type-of.ts: commonType, arithmeticType). */
  coerce(v: Val, to: DataType, out: string[], e: Expr): Val {
    const from = v.type;
    if (typeEquals(from, to)) return v;
    if (from.kind === 'null') return { code: defaultValue(to), valid: NEVER, type: to };
    const as = (code: string): Val => ({ code, valid: v.valid, type: to });
    switch (to.kind) {
      case 'int32':
      case 'int64':
        if (isIntegral(from)) return as(v.code);
        break;
      case 'float64':
        if (isIntegral(from) || from.kind === 'float64') return as(v.code);
        if (from.kind === 'decimal') return as(`(${v.code} / ${POW10[from.scale]})`);
        break;
      case 'decimal': {
        const fromScale = from.kind === 'decimal' ? from.scale : 0;
        if (isIntegral(from) || from.kind === 'decimal') {
          if (fromScale === to.scale) return as(v.code);
          if (fromScale < to.scale) {
            const constant = /^k\d+$/.test(v.code) ? this.consts[Number(v.code.slice(1))] : undefined;
            if (typeof constant === 'number') {
              // A literal operand: rescaled once, here (the same check, at compile time).
              const scaled = constant * POW10[to.scale - fromScale]!;
              if (scaled <= MAX_SAFE && scaled >= -MAX_SAFE) return as(this.konst(scaled));
            }
            return as(this.checkSafe(out, `${v.code} * ${POW10[to.scale - fromScale]}`, v.valid, typeToString(to), e));
          }
          return as(`lib.divRoundHalfAway(${v.code}, ${POW10[fromScale - to.scale]})`);
        }
        break;
      }
      case 'timestamp':
        if (from.kind === 'date32') return as(`(${v.code} * ${MICROS_PER_DAY})`);
        break;
      default:
        break;
    }
    throw new AnalysisError(`cannot convert ${typeToString(from)} to ${typeToString(to)} in ${exprToString(e)}`);
  }

  /** Emit `e` converted to `to`; utf8 literals meeting dates or timestamps are parsed here, once. */
  coerceExpr(e: Expr, to: DataType, out: string[]): Val {
    const inner = e.kind === 'alias' ? e.input : e;
    if (inner.kind === 'literal' && inner.type.kind === 'utf8' && typeof inner.value === 'string' && (to.kind === 'date32' || to.kind === 'timestamp')) {
      const parsed = to.kind === 'date32' ? parseDate(inner.value) : parseTimestamp(inner.value);
      if (parsed === null) throw new AnalysisError(`cannot read '${inner.value}' as a ${typeToString(to)} in ${exprToString(e)}`);
      return { code: this.konst(parsed), valid: ALWAYS, type: to };
    }
    return this.coerce(this.emit(e, out), to, out, e);
  }

  private emitBinary(e: Expr & { kind: 'binary' }, out: string[]): Val {
    switch (e.op) {
      case 'and':
      case 'or':
        return this.emitLogical(e, out);
      case '=':
      case '!=':
      case '<':
      case '<=':
      case '>':
      case '>=': {
        const ct = comparisonType(e.left, this.typeOf(e.left), e.right, this.typeOf(e.right))!;
        const l = this.coerceExpr(e.left, ct, out);
        const r = this.coerceExpr(e.right, ct, out);
        const valid = merge(l.valid, r.valid);
        if (ct.kind === 'float64' && (this.mayBeNaN(e.left) || this.mayBeNaN(e.right))) {
          return { code: floatComparison(e.op, this.bind(out, l.code), this.bind(out, r.code)), valid, type: DataTypes.bool };
        }
        const op = e.op === '=' ? '===' : e.op === '!=' ? '!==' : e.op;
        return { code: `(${l.code} ${op} ${r.code})`, valid, type: DataTypes.bool };
      }
      default:
        return this.emitArithmetic(e, out);
    }
  }

  /** Whether `e` may evaluate to NaN as a float64 (only float64 values may; numeric literals are known). */
  private mayBeNaN(e: Expr): boolean {
    const inner = e.kind === 'alias' ? e.input : e;
    if (this.typeOf(inner).kind !== 'float64') return false;
    return !(inner.kind === 'literal' && typeof inner.value === 'number' && !Number.isNaN(inner.value));
  }

  private emitArithmetic(e: Expr & { kind: 'binary' }, out: string[]): Val {
    const lt = this.typeOf(e.left);
    const rt = this.typeOf(e.right);
    const t = this.typeOf(e);
    const op = e.op;
    if (t.kind === 'null') return { code: '0', valid: NEVER, type: t };
    // Date arithmetic: days are plain integers.
    if (t.kind === 'date32' || (lt.kind === 'date32' && rt.kind === 'date32')) {
      const l = this.emit(e.left, out);
      const r = this.emit(e.right, out);
      const valid = merge(l.valid, r.valid);
      const code = `(${l.code} ${op} ${r.code})`;
      return { code: t.kind === 'date32' ? this.checkInt32(out, code, valid, e) : code, valid, type: t };
    }
    if (op === '/') {
      const l = this.coerce(this.emit(e.left, out), DataTypes.float64, out, e.left);
      const r = this.coerce(this.emit(e.right, out), DataTypes.float64, out, e.right);
      const rc = this.bind(out, r.code);
      const q = this.tmp();
      // Division by zero is NULL for every numeric type (Spark; DuckDB gives ±inf/NaN for floating division).
      out.push(`const ${q} = ${rc} !== 0 ? ${l.code} / ${rc} : 0;`);
      return { code: q, valid: merge(l.valid, r.valid, { bits: [], rows: [`${rc} !== 0`] }), type: t };
    }
    let l: Val;
    let r: Val;
    if (t.kind === 'decimal' && op === '*') {
      // Unscaled product: scales add up (integers count as scale 0).
      l = this.emit(e.left, out);
      r = this.emit(e.right, out);
    } else {
      l = this.coerce(this.emit(e.left, out), t, out, e.left);
      r = this.coerce(this.emit(e.right, out), t, out, e.right);
    }
    const valid = merge(l.valid, r.valid);
    if (op === '%') {
      const rc = this.bind(out, r.code);
      const q = this.tmp();
      out.push(`const ${q} = ${rc} !== 0 ? ${l.code} % ${rc} : 0;`);
      return { code: q, valid: merge(valid, { bits: [], rows: [`${rc} !== 0`] }), type: t };
    }
    const code = `${l.code} ${op} ${r.code}`;
    switch (t.kind) {
      case 'int32':
        return { code: this.checkInt32(out, code, valid, e), valid, type: t };
      case 'int64':
        return { code: this.checkSafe(out, code, valid, 'int64', e), valid, type: t };
      case 'decimal':
        return { code: this.checkDecimal(out, code, valid, t, e), valid, type: t };
      default:
        return { code: `(${code})`, valid, type: t };
    }
  }

  /** Three-valued AND/OR; the right operand is evaluated only when the left does not decide. */
  private emitLogical(e: Expr & { kind: 'binary' }, out: string[]): Val {
    const and = e.op === 'and';
    const l = this.emit(e.left, out);
    const inner: string[] = [];
    const r = this.emit(e.right, inner);
    const lv = validCode(l.valid);
    const rv = validCode(r.valid);
    const t = this.tmp();
    if (lv === 'true' && rv === 'true') {
      if (inner.length === 0) return { code: `(${l.code} ${and ? '&&' : '||'} ${r.code})`, valid: ALWAYS, type: DataTypes.bool };
      out.push(`let ${t} = ${l.code};`, `if (${and ? '' : '!'}${t}) {`, ...inner, `${t} = ${r.code};`, '}');
      return { code: t, valid: ALWAYS, type: DataTypes.bool };
    }
    const ok = this.tmp('ok');
    const decided = and ? 'false' : 'true';
    const neg = and ? '!' : '';
    out.push(
      `let ${t} = ${decided}, ${ok} = true;`,
      `if (!(${lv} && ${neg}${l.code})) {`,
      ...inner,
      `if (!(${rv} && ${neg}${r.code})) {`,
      `if (${lv} && ${rv}) ${t} = ${and ? 'true' : 'false'}; else ${ok} = false;`,
      '}',
      '}',
    );
    return { code: t, valid: { bits: [], rows: [ok] }, type: DataTypes.bool };
  }

  private emitCase(e: Expr & { kind: 'case' }, out: string[]): Val {
    const t = this.typeOf(e);
    const v = this.tmp();
    const ok = this.tmp('ok');
    out.push(`let ${v} = ${defaultValue(t)}, ${ok} = false;`);
    const branch = (k: number, block: string[]): void => {
      if (k === e.branches.length) {
        if (e.otherwise) this.assign(e.otherwise, t, v, ok, block);
        return;
      }
      const b = e.branches[k]!;
      const c = this.emit(b.when, block);
      const cv = validCode(c.valid);
      const then: string[] = [];
      this.assign(b.then, t, v, ok, then);
      const rest: string[] = [];
      branch(k + 1, rest);
      block.push(`if (${cv === 'true' ? '' : `${cv} && `}${c.code}) {`, ...then, rest.length ? '} else {' : '}', ...(rest.length ? [...rest, '}'] : []));
    };
    branch(0, out);
    return { code: v, valid: { bits: [], rows: [ok] }, type: t };
  }

  private assign(e: Expr, t: DataType, v: string, ok: string, block: string[]): Valid {
    const x = this.coerceExpr(e, t, block);
    const valid = validCode(x.valid);
    block.push(`${v} = ${x.code}; ${ok} = ${valid};`);
    return x.valid;
  }

  private emitCoalesce(e: Expr & { kind: 'call' }, out: string[]): Val {
    const t = this.typeOf(e);
    const v = this.tmp();
    const ok = this.tmp('ok');
    out.push(`let ${v} = ${defaultValue(t)}, ${ok} = false;`);
    const arg = (k: number, block: string[]): void => {
      const x = this.coerceExpr(e.args[k]!, t, block);
      const valid = validCode(x.valid);
      if (valid === 'true' || k === e.args.length - 1) {
        block.push(`${v} = ${x.code}; ${ok} = ${valid};`);
        return;
      }
      const rest: string[] = [];
      arg(k + 1, rest);
      block.push(`if (${valid}) { ${v} = ${x.code}; ${ok} = true; } else {`, ...rest, '}');
    };
    arg(0, out);
    return { code: v, valid: { bits: [], rows: [ok] }, type: t };
  }

  private emitIn(e: Expr & { kind: 'in' }, out: string[]): Val {
    const inputType = this.typeOf(e.input);
    let ct = inputType;
    for (const item of e.list) ct = comparisonType(e.input, ct, item, this.typeOf(item)) ?? ct;
    const literalItems = e.list.every((x) => x.kind === 'literal');
    if (!literalItems || ct.kind === 'null') {
      // General case: x IN (a, b) ≡ x = a OR x = b, which has the right three-valued semantics.
      if (e.list.length === 0) return { code: e.negated ? 'true' : 'false', valid: ALWAYS, type: DataTypes.bool };
      let any = binary('=', e.input, e.list[0]!);
      for (const item of e.list.slice(1)) any = binary('or', any, binary('=', e.input, item));
      return this.emit(e.negated ? not(any) : any, out);
    }
    const v = this.coerceExpr(e.input, ct, out);
    const x = this.bind(out, v.code);
    const values: unknown[] = [];
    let hasNull = false;
    for (const item of e.list) {
      if (item.kind !== 'literal') continue;
      if (item.value === null) {
        hasNull = true;
        continue;
      }
      values.push(literalAs(item, ct));
    }
    let found: string;
    if (values.length <= 6) {
      found = values.length === 0 ? 'false' : `(${values.map((val) => `${x} === ${this.konst(val)}`).join(' || ')})`;
    } else {
      found = `${this.konst(new Set(values))}.has(${x})`;
    }
    const f = this.bind(out, found);
    // No match against a list holding NULL is NULL.
    const valid = hasNull ? merge(v.valid, { bits: [], rows: [f] }) : v.valid;
    return { code: e.negated ? `!${f}` : f, valid, type: DataTypes.bool };
  }

  private emitCall(e: Expr & { kind: 'call' }, out: string[]): Val {
    const t = this.typeOf(e);
    const args = (from = 0): Val[] => e.args.slice(from).map((a) => this.emit(a, out));
    const all = (vs: Val[]) => merge(...vs.map((v) => v.valid));
    const f64 = (v: Val, a: Expr) => this.coerce(v, DataTypes.float64, out, a);
    switch (e.fn) {
      case 'coalesce':
        return this.emitCoalesce(e, out);
      case 'upper':
      case 'lower': {
        const [s] = args();
        return { code: `${s!.code}.${e.fn === 'upper' ? 'toUpperCase' : 'toLowerCase'}()`, valid: s!.valid, type: t };
      }
      case 'length': {
        const [s] = args();
        return { code: `lib.charLength(${s!.code})`, valid: s!.valid, type: t };
      }
      case 'substring': {
        const vs = args();
        const len = vs[2] ? vs[2].code : 'Infinity';
        return { code: `lib.substring(${vs[0]!.code}, ${vs[1]!.code}, ${len})`, valid: all(vs), type: t };
      }
      case 'concat': {
        const parts = e.args.map((a) => this.toText(this.emit(a, out)));
        return { code: `(${parts.map((p) => p.code).join(' + ')})`, valid: all(parts), type: t };
      }
      case 'trim':
      case 'ltrim':
      case 'rtrim': {
        const [s] = args();
        return { code: `lib.${e.fn}(${s!.code})`, valid: s!.valid, type: t };
      }
      case 'starts_with':
      case 'ends_with':
      case 'contains': {
        const [s, p] = args();
        const m = e.fn === 'starts_with' ? 'startsWith' : e.fn === 'ends_with' ? 'endsWith' : 'includes';
        return { code: `${s!.code}.${m}(${p!.code})`, valid: all([s!, p!]), type: t };
      }
      case 'replace': {
        const vs = args();
        return { code: `lib.replace(${vs.map((v) => v.code).join(', ')})`, valid: all(vs), type: t };
      }
      case 'year':
      case 'month':
      case 'day_of_month': {
        const [d] = args();
        const days = d!.type.kind === 'timestamp' ? `lib.floorDiv(${d!.code}, ${MICROS_PER_DAY})` : d!.code;
        const fn = e.fn === 'year' ? 'yearOf' : e.fn === 'month' ? 'monthOf' : 'dayOf';
        return { code: `lib.${fn}(${days})`, valid: d!.valid, type: t };
      }
      case 'date_add': {
        const [d, n] = args();
        const valid = all([d!, n!]);
        if (t.kind === 'timestamp') {
          return { code: this.checkSafe(out, `${d!.code} + ${n!.code} * ${MICROS_PER_DAY}`, valid, 'timestamp', e), valid, type: t };
        }
        return { code: this.checkInt32(out, `${d!.code} + ${n!.code}`, valid, e), valid, type: t };
      }
      case 'date_diff': {
        const unit = this.konst(literalStringArg(e, 0, DATE_DIFF_UNITS));
        const ts = this.typeOf(e.args[1]!).kind === 'timestamp' || this.typeOf(e.args[2]!).kind === 'timestamp';
        const to = ts ? DataTypes.timestamp : DataTypes.date32;
        const a = this.coerceExpr(e.args[1]!, to, out);
        const b = this.coerceExpr(e.args[2]!, to, out);
        return { code: `lib.${ts ? 'dateDiffMicros' : 'dateDiffDays'}(${unit}, ${a.code}, ${b.code})`, valid: merge(a.valid, b.valid), type: t };
      }
      case 'extract': {
        const field = this.konst(literalStringArg(e, 0, EXTRACT_FIELDS));
        const d = this.emit(e.args[1]!, out);
        const fn = d.type.kind === 'timestamp' ? 'extractFromMicros' : 'extractFromDays';
        return { code: `lib.${fn}(${field}, ${d.code})`, valid: d.valid, type: t };
      }
      case 'abs': {
        const [x] = args();
        if (x!.type.kind === 'null') return { code: '0', valid: NEVER, type: t };
        const code = `Math.abs(${x!.code})`;
        return { code: t.kind === 'int32' ? this.checkInt32(out, code, x!.valid, e) : code, valid: x!.valid, type: t };
      }
      case 'round':
        return this.emitRound(e, t, out);
      case 'floor':
      case 'ceil': {
        const [x] = args();
        if (x!.type.kind === 'null') return { code: '0', valid: NEVER, type: t };
        const xt = x!.type;
        if (xt.kind === 'decimal') {
          const p = POW10[xt.scale]!;
          const code = e.fn === 'floor' ? `lib.floorDiv(${x!.code}, ${p})` : `(-lib.floorDiv(-${x!.code}, ${p}))`;
          return { code, valid: x!.valid, type: t };
        }
        if (isIntegral(xt)) return { code: x!.code, valid: x!.valid, type: t };
        return { code: `Math.${e.fn}(${x!.code})`, valid: x!.valid, type: t };
      }
      case 'sqrt':
      case 'exp':
      case 'log': {
        const x = f64(this.emit(e.args[0]!, out), e.args[0]!);
        const xc = this.bind(out, x.code);
        if (e.fn === 'sqrt') this.failIf(out, `${xc} < 0`, x.valid, `cannot take the square root of a negative number in ${exprToString(e)}`);
        if (e.fn === 'log') this.failIf(out, `${xc} <= 0`, x.valid, `cannot take the logarithm of zero or a negative number in ${exprToString(e)}`);
        const fn = e.fn === 'log' ? 'log' : e.fn;
        return { code: `Math.${fn}(${xc})`, valid: x.valid, type: t };
      }
      case 'pow': {
        const a = f64(this.emit(e.args[0]!, out), e.args[0]!);
        const b = f64(this.emit(e.args[1]!, out), e.args[1]!);
        return { code: `Math.pow(${a.code}, ${b.code})`, valid: merge(a.valid, b.valid), type: t };
      }
    }
  }

  private emitRound(e: Expr & { kind: 'call' }, t: DataType, out: string[]): Val {
    const x = this.emit(e.args[0]!, out);
    const digits = literalIntArg(e, 1, 0);
    const xt = x.type;
    if (xt.kind === 'null') return { code: '0', valid: NEVER, type: t };
    if (xt.kind === 'float64') return { code: `lib.roundDouble(${x.code}, ${digits})`, valid: x.valid, type: t };
    const scale = xt.kind === 'decimal' ? xt.scale : 0;
    if (digits >= scale) return { code: x.code, valid: x.valid, type: t };
    // Half away from zero on the unscaled integer; negative digits round to tens, hundreds...
    const drop = POW10[scale - digits] ?? 10 ** (scale - digits);
    let code = `lib.divRoundHalfAway(${x.code}, ${drop})`;
    if (digits < 0) code = `${code} * ${POW10[-digits] ?? 10 ** -digits}`;
    if (t.kind === 'int32') return { code: this.checkInt32(out, code, x.valid, e), valid: x.valid, type: t };
    return { code: this.checkSafe(out, code, x.valid, typeToString(t), e), valid: x.valid, type: t };
  }

  /** A value as text, as CAST(x AS utf8). */
  private toText(v: Val): Val {
    const s = (code: string): Val => ({ code, valid: v.valid, type: DataTypes.utf8 });
    switch (v.type.kind) {
      case 'utf8':
        return v;
      case 'null':
        return { code: "''", valid: NEVER, type: DataTypes.utf8 };
      case 'bool':
        return s(`(${v.code} ? 'true' : 'false')`);
      case 'int32':
      case 'int64':
        return s(`String(${v.code})`);
      case 'float64':
        return s(`lib.formatDouble(${v.code})`);
      case 'decimal':
        return s(`lib.formatDecimal(${v.code}, ${v.type.scale})`);
      case 'date32':
        return s(`lib.formatDate(${v.code})`);
      case 'timestamp':
        return s(`lib.formatTimestamp(${v.code})`);
      case 'vector':
        throw new UnsupportedError('vectors cannot be converted to text');
    }
  }

  private emitCast(e: Expr & { kind: 'cast' }, out: string[]): Val {
    const to = e.to;
    const v = this.emit(e.input, out);
    const from = v.type;
    if (typeEquals(from, to)) return v;
    if (from.kind === 'null') return { code: defaultValue(to), valid: NEVER, type: to };
    if (to.kind === 'utf8') return this.toText(v);
    const msg = this.konst(`cannot cast %s to ${typeToString(to)} in ${exprToString(e)}`);
    const as = (code: string): Val => ({ code, valid: v.valid, type: to });
    const vc = validCode(v.valid);
    // Parsing runs only on valid rows: null rows hold '' which would not parse.
    const guarded = (code: string) => as(this.bind(out, vc === 'true' ? code : `(${vc}) ? ${code} : ${defaultValue(to)}`));
    const range = (code: string, min: number, max: number, shown: string): Val => {
      const t = this.bind(out, code);
      const cond = `!(${t} >= ${min} && ${t} <= ${max})`;
      out.push(vc === 'true' ? `if (${cond}) lib.outOfRange(${shown}, ${msg});` : `if ((${cond}) && ${vc}) lib.outOfRange(${shown}, ${msg});`);
      return as(t);
    };
    if (from.kind === 'utf8') {
      switch (to.kind) {
        case 'int32':
          return guarded(`lib.textToInt(${v.code}, ${INT32_MIN}, ${INT32_MAX}, ${msg})`);
        case 'int64':
          return guarded(`lib.textToInt(${v.code}, -${MAX_SAFE}, ${MAX_SAFE}, ${msg})`);
        case 'float64':
          return guarded(`lib.textToDouble(${v.code}, ${msg})`);
        case 'decimal':
          return guarded(`lib.textToDecimal(${v.code}, ${to.scale}, ${Math.min(POW10[to.precision]!, MAX_SAFE + 1)}, ${msg})`);
        case 'bool':
          return guarded(`lib.textToBool(${v.code}, ${msg})`);
        case 'date32':
          return guarded(`lib.textToDate(${v.code}, ${msg})`);
        case 'timestamp':
          return guarded(`lib.textToTimestamp(${v.code}, ${msg})`);
        default:
          break;
      }
    }
    const x = this.bind(out, v.code);
    const shown = this.toText({ code: x, valid: v.valid, type: from }).code;
    const fromScale = from.kind === 'decimal' ? from.scale : 0;
    switch (to.kind) {
      case 'bool':
        return as(`(${x} !== 0)`);
      case 'int32':
      case 'int64': {
        const [min, max] = to.kind === 'int32' ? [INT32_MIN, INT32_MAX] : [-MAX_SAFE, MAX_SAFE];
        if (from.kind === 'bool') return as(`(${x} ? 1 : 0)`);
        if (from.kind === 'int32') return as(x);
        if (from.kind === 'int64') return range(x, min, max, shown);
        // DuckDB: float64 → integer rounds half to even; decimal → integer rounds half away from zero.
        if (from.kind === 'float64') return range(`lib.roundHalfEven(${x})`, min, max, shown);
        if (from.kind === 'decimal') return range(`lib.divRoundHalfAway(${x}, ${POW10[fromScale]})`, min, max, shown);
        break;
      }
      case 'float64':
        if (from.kind === 'bool') return as(`(${x} ? 1 : 0)`);
        if (isIntegral(from)) return as(x);
        if (from.kind === 'decimal') return as(`(${x} / ${POW10[fromScale]})`);
        break;
      case 'decimal': {
        const limit = Math.min(POW10[to.precision]!, MAX_SAFE + 1);
        let code: string | null = null;
        if (from.kind === 'bool') code = `(${x} ? ${POW10[to.scale]} : 0)`;
        else if (from.kind === 'float64') code = `lib.roundHalfAway(${x} * ${POW10[to.scale]})`;
        else if (isIntegral(from) || from.kind === 'decimal') {
          code = fromScale <= to.scale ? `${x} * ${POW10[to.scale - fromScale]}` : `lib.divRoundHalfAway(${x}, ${POW10[fromScale - to.scale]})`;
        }
        if (code !== null) return range(code, -(limit - 1), limit - 1, shown);
        break;
      }
      case 'timestamp':
        if (from.kind === 'date32') return range(`${x} * ${MICROS_PER_DAY}`, -MAX_SAFE, MAX_SAFE, shown);
        break;
      case 'date32':
        if (from.kind === 'timestamp') return as(`lib.floorDiv(${x}, ${MICROS_PER_DAY})`);
        break;
      default:
        break;
    }
    throw new UnsupportedError(`cannot cast ${typeToString(from)} to ${typeToString(to)} in ${exprToString(e)}`);
  }

  // ---- whole kernels ----

  finish(root: Expr, mode: KernelMode): KernelSource {
    const body: string[] = [];
    const v = this.emit(root, body);
    const t = v.type;
    const lines: string[] = [];
    const post: string[] = [];
    if (mode === 'select') {
      if (t.kind !== 'bool' && t.kind !== 'null') throw new AnalysisError(`a filter condition must be bool, got ${typeToString(t)} in ${exprToString(root)}`);
      const vb = v.valid.bits.length === 1 ? v.valid.bits[0]! : v.valid.bits.length > 1 ? 'vb' : null;
      if (vb === 'vb') lines.push(`const vb = lib.andBitmaps(n, [${v.valid.bits.join(', ')}]);`);
      lines.push('const sel = buf !== undefined && buf.length >= n ? buf : new Int32Array(n);', 'let count = 0;');
      const conds = [...(vb ? [bitAt(vb)] : []), ...v.valid.rows, v.code];
      body.push(`if (${conds.join(' && ')}) sel[count++] = i;`);
      post.push('return sel === buf ? sel.subarray(0, count) : sel.slice(0, count);');
    } else {
      const write = mode === 'arrow' ? arrowWriter(t) : internalWriter(t);
      lines.push(write.alloc);
      const val = write.once ? v.code : this.bind(body, v.code);
      body.push(...write.store(val));
      const bits = `[${v.valid.bits.join(', ')}]`;
      if (v.valid.rows.length > 0) {
        lines.push(`const ov = lib.andBitmapsOrAll(n, ${bits});`);
        body.push(`if (!(${v.valid.rows.join(' && ')})) ov[i >> 3] &= ~(1 << (i & 7));`);
      } else {
        // Null propagation only: validity is the AND of the input bitmaps, a word at a time, after the loop.
        post.push(`const ov = lib.andBitmaps(n, ${bits});`);
      }
      post.push('return { values: out, validity: ov };');
    }
    const source = [
      '"use strict";',
      ...this.prelude,
      ...lines,
      'for (let i = 0; i < n; i++) {',
      ...body.map((l) => `  ${l}`),
      '}',
      ...post,
    ].join('\n');
    return { source, consts: this.consts, columns: this.columns, outType: t };
  }
  /**
   * A selection kernel for a conjunction whose conjuncts cannot raise errors: conjuncts over the same columns
   * are evaluated together without branches (`count += a & b`) over all rows, and each following group
   * refines the selection in place, reading its columns only for the rows still selected. A row is kept
   * when every conjunct is TRUE, which is when the conjunction is TRUE. Null when a conjunct could raise
   * (its code calls the kernel library), where evaluating it on fewer rows than the lazy AND would differ.
   */
  finishStagedSelect(root: Expr): KernelSource | null {
    if (this.typeOf(root).kind !== 'bool') return null;
    const parts = conjuncts(root);
    const refsOf = (e: Expr) => {
      const refs = new Set<number>();
      visit(e, (n) => {
        if (n.kind === 'column') refs.add(resolveField(this.input, n.name, n.qualifier, n.index));
      });
      return [...refs].sort((a, b) => a - b).join(',');
    };
    const stages: { refs: string; exprs: Expr[] }[] = [];
    for (const p of parts) {
      const refs = refsOf(p);
      const last = stages[stages.length - 1];
      if (last && last.refs === refs) last.exprs.push(p);
      else stages.push({ refs, exprs: [p] });
    }
    const loops: string[] = [];
    for (const [k, stage] of stages.entries()) {
      const body: string[] = [];
      const terms: string[] = [];
      // Shared subexpressions (a column read twice by BETWEEN) once per row, within this stage's loop.
      this.top = body;
      this.memo.clear();
      for (const p of stage.exprs) {
        const v = this.emit(p, body);
        if (v.type.kind !== 'bool') return null;
        for (const b of v.valid.bits) terms.push(bitAt(b));
        terms.push(...v.valid.rows.map((r) => `(${r})`), `(${v.code})`);
      }
      if (body.some((l) => l.includes('lib.')) || terms.some((t) => t.includes('lib.'))) return null;
      // `| 0`: adding a boolean to a number is a slow path in V8; an int32 is not.
      const keep = [`sel[count] = i;`, `count += (${terms.join(' & ')}) | 0;`];
      if (k === 0) loops.push('for (let i = 0; i < n; i++) {', ...body.map((l) => `  ${l}`), ...keep.map((l) => `  ${l}`), '}');
      else {
        loops.push(
          'm = count;',
          'count = 0;',
          'for (let s = 0; s < m; s++) {',
          '  const i = sel[s];',
          ...body.map((l) => `  ${l}`),
          ...keep.map((l) => `  ${l}`),
          '}',
        );
      }
    }
    const source = [
      '"use strict";',
      ...this.prelude,
      'const sel = buf !== undefined && buf.length >= n ? buf : new Int32Array(n);',
      'let count = 0, m = 0;',
      ...loops,
      'return sel === buf ? sel.subarray(0, count) : sel.slice(0, count);',
    ].join('\n');
    return { source, consts: this.consts, columns: this.columns, outType: DataTypes.bool };
  }

  /**
   * A fused aggregation kernel `function (cols, n, k, lib, sel, m, gids, acc, st, runEnds, runGroups, runCount)`:
   * folds rows sel[0..m) (or 0..m when `sel` is null) into per-group accumulators (`acc`, see FusedSlot),
   * computing every slot's input expression in one loop. Per-row variant (`runs` false): row sel[s] belongs to
   * group gids[s]. Run variant: positions [runEnds[r-1], runEnds[r]) all belong to group runGroups[r], and the
   * group's state is kept in locals for the run (no memory round trip per row and slot).
   * Each row's values are all computed before any accumulator is touched, so when a row raises, the rows
   * before it are folded in completely and it is not at all: `st.stopped` tells where (for the caller's
   * exact fallback). Identical subexpressions are computed once per row.
   */
  finishFused(slots: readonly FusedSlot[], runs: boolean): KernelSource {
    this.fused = true;
    const body: string[] = [];
    this.top = body;
    const lines: string[] = [];
    const perRow: string[] = [];
    const load: string[] = [];
    const store: string[] = [];
    const seen = new Map<string, { code: string; valid: string }>();
    /** Run variant: the first exact-sum slot of each input expression, and the slots sharing its run sum. */
    const exactByExpr = new Map<string, number>();
    const sharers = new Map<number, number[]>();
    const C = '9007199254740992';
    slots.forEach((slot, j) => {
      const arrays = slot.kind === 'count' || slot.kind === 'count_valid' ? 1 : slot.kind === 'sum_float' ? 2 : 3;
      lines.push(`const $a${j} = acc[${j}][0]${arrays > 1 ? `, $b${j} = acc[${j}][1]` : ''}${arrays > 2 ? `, $x${j} = acc[${j}][2]` : ''};`);
      let v = { code: '0', valid: 'true' };
      if (slot.kind !== 'count') {
        const key = JSON.stringify(stripAliases(slot.expr!));
        let found = seen.get(key);
        if (!found) {
          const val = this.emit(slot.expr!.kind === 'alias' ? stripAliases(slot.expr!) : slot.expr!, body);
          if (slot.kind !== 'count_valid' && !['int32', 'int64', 'decimal', 'float64'].includes(val.type.kind)) {
            throw new AnalysisError(`internal: cannot sum ${typeToString(val.type)} values in a fused aggregation`);
          }
          const code = slot.kind === 'count_valid' ? '0' : this.bind(body, val.code);
          const validity = validCode(val.valid);
          found = { code, valid: validity === 'true' ? 'true' : this.bind(body, `(${validity})`) };
          seen.set(key, found);
        }
        v = found;
      }
      const guarded = (upd: string[]) => {
        if (upd.length === 0) return;
        if (v.valid === 'true') perRow.push(...upd);
        else perRow.push(`if (${v.valid}) {`, ...upd.map((l) => `  ${l}`), '}');
      };
      // The counts array: a (count kinds) or b (sums).
      const counts = arrays === 1 ? `$a${j}` : `$b${j}`;
      if (!runs) {
        const upd: string[] = [];
        if (slot.kind === 'sum_float') upd.push(`$a${j}[g] += ${v.code};`);
        if (slot.kind === 'sum_exact') {
          // Integers below 2^53 in magnitude add up exactly while the sum stays below 2^53; before it would
          // not, the group's running sum moves to the exact accumulator (x: its carry function).
          upd.push(
            `let $f${j} = $a${j}[g] + ${v.code};`,
            `if ($f${j} >= ${C} || $f${j} <= -${C}) { $x${j}(g, $a${j}[g]); $f${j} = ${v.code}; }`,
            `$a${j}[g] = $f${j};`,
          );
        }
        upd.push(`${counts}[g]++;`);
        guarded(upd);
        return;
      }
      if (slot.kind === 'sum_exact') {
        // Exact sums of a run are run-local (from 0) and merged into the group's running sum at the run's end,
        // so slots summing the same values (sum and avg of one column) share the per-row work.
        const key = JSON.stringify(stripAliases(slot.expr!));
        const first = exactByExpr.get(key);
        const own = first ?? j;
        if (first === undefined) {
          exactByExpr.set(key, j);
          sharers.set(j, [j]);
          lines.push(`let $f${j} = 0;`);
          load.push(`$f${j} = 0;`);
          const upd = [`let $u${j} = $f${j} + ${v.code};`, `if ($u${j} >= ${C} || $u${j} <= -${C}) { @@carry${j}@@ $u${j} = ${v.code}; }`, `$f${j} = $u${j};`];
          if (v.valid !== 'true') {
            lines.push(`let $n${j} = 0;`);
            load.push(`$n${j} = 0;`);
            upd.push(`$n${j}++;`);
          }
          guarded(upd);
        } else {
          sharers.get(first)!.push(j);
        }
        store.push(
          `{ let q = $a${j}[g] + $f${own}; if (q >= ${C} || q <= -${C}) { $x${j}(g, $a${j}[g]); q = $f${own}; } $a${j}[g] = q; }`,
          v.valid === 'true' ? `${counts}[g] += s - start;` : `${counts}[g] += $n${own};`,
        );
        return;
      }
      const upd: string[] = [];
      if (slot.kind === 'sum_float') {
        upd.push(`$f${j} += ${v.code};`);
        lines.push(`let $f${j} = 0;`);
        load.push(`$f${j} = $a${j}[g];`);
        store.push(`$a${j}[g] = $f${j};`);
      }
      if (v.valid === 'true') {
        // Every row of the run counts.
        store.push(`${counts}[g] += s - start;`);
      } else {
        lines.push(`let $n${j} = 0;`);
        load.push(`$n${j} = ${counts}[g];`);
        store.push(`${counts}[g] = $n${j};`);
        upd.push(`$n${j}++;`);
      }
      guarded(upd);
    });
    // A run-local exact sum about to leave the range of doubles goes to the exact state of every slot sharing it.
    for (const [j, all] of sharers) {
      const calls = all.map((t) => `$x${t}(g, $f${j});`).join(' ');
      for (let l = 0; l < perRow.length; l++) perRow[l] = perRow[l]!.replace(`@@carry${j}@@`, calls);
    }
    const row = ['const i = sel === null ? s : sel[s];', ...(runs ? [] : ['const g = gids[s];']), ...body, ...perRow];
    const loop = runs
      ? [
          'let g = -1, start = 0;',
          'try {',
          'for (let r = 0; r < runCount; r++) {',
          '  g = runGroups[r];',
          '  const end = runEnds[r];',
          '  start = s;',
          ...load.map((l) => `  ${l}`),
          '  for (; s < end; s++) {',
          ...row.map((l) => `    ${l}`),
          '  }',
          ...store.map((l) => `  ${l}`),
          '  g = -1;',
          '}',
          '} catch (e) {',
          '  if (g >= 0) {',
          ...store.map((l) => `    ${l}`),
          '  }',
          '  st.stopped = s;',
          '  throw e;',
          '}',
        ]
      : ['try {', 'for (; s < m; s++) {', ...row.map((l) => `  ${l}`), '}', '} catch (e) { st.stopped = s; throw e; }'];
    const source = ['"use strict";', ...this.prelude, ...lines, 'let s = 0;', ...loop].join('\n');
    return { source, consts: this.consts, columns: this.columns, outType: DataTypes.null };
  }
}

/**
 * One accumulator a fused aggregation kernel folds rows into (arrays in `acc[j]`): `count` counts rows (acc:
 * [counts]); `count_valid` counts rows where `expr` is not NULL ([counts]); `sum_float` adds float64 values
 * ([sums, counts]); `sum_exact` adds integers (int or unscaled decimal) exactly ([running sums, counts, carry]).
 */
export interface FusedSlot {
  readonly kind: 'count' | 'count_valid' | 'sum_float' | 'sum_exact';
  readonly expr: Expr | null;
}

function stripAliases(e: Expr): Expr {
  return e.kind === 'alias' ? stripAliases(e.input) : e;
}

/** Generate a fused aggregation kernel (see Generator.finishFused). */
export function generateFusedKernel(
  slots: readonly FusedSlot[],
  input: Schema,
  layout: (column: number) => ColumnLayout,
  sub: SubCompiler | null,
  runs: boolean,
): KernelSource {
  return new Generator(input, layout, sub).finishFused(slots, runs);
}

/** Comparison of float64 values with DuckDB's NaN semantics: NaN equals NaN and sorts above every number. */
function floatComparison(op: '=' | '!=' | '<' | '<=' | '>' | '>=', a: string, b: string): string {
  switch (op) {
    case '=':
      return `(${a} === ${b} || (${a} !== ${a} && ${b} !== ${b}))`;
    case '!=':
      return `!(${a} === ${b} || (${a} !== ${a} && ${b} !== ${b}))`;
    case '<':
      return `(${a} < ${b} || (${b} !== ${b} && ${a} === ${a}))`;
    case '<=':
      return `(${a} <= ${b} || ${b} !== ${b})`;
    case '>':
      return `(${a} > ${b} || (${a} !== ${a} && ${b} === ${b}))`;
    case '>=':
      return `(${a} >= ${b} || ${a} !== ${a})`;
  }
}

interface Writer {
  readonly alloc: string;
  /** Whether `store` uses its value once (then the value expression is written inline). */
  readonly once?: boolean;
  store(v: string): string[];
}

function arrowWriter(t: DataType): Writer {
  switch (t.kind) {
    case 'int32':
    case 'date32':
      return { alloc: 'const out = new Int32Array(n);', once: true, store: (v) => [`out[i] = ${v};`] };
    case 'float64':
      return { alloc: 'const out = new Float64Array(n);', once: true, store: (v) => [`out[i] = ${v};`] };
    case 'int64':
    case 'timestamp':
    case 'decimal':
      // Written as [lo, hi] 32-bit words of the int64 (or Decimal64) buffer; no BigInt in the loop.
      return {
        alloc: 'const out = new Int32Array(2 * n);',
        store: (v) => [`out[2 * i] = ${v} >>> 0;`, `out[2 * i + 1] = Math.floor(${v} / 4294967296);`],
      };
    case 'bool':
      return { alloc: 'const out = lib.newBitmap(n);', once: true, store: (v) => [`if (${v}) out[i >> 3] |= 1 << (i & 7);`] };
    case 'utf8':
      return { alloc: 'const out = new Array(n);', once: true, store: (v) => [`out[i] = ${v};`] };
    case 'null':
      return { alloc: 'const out = null;', store: () => [] };
    case 'vector':
      throw new UnsupportedError('vector results can only come from plain column references');
  }
}

function internalWriter(t: DataType): Writer {
  switch (t.kind) {
    case 'bool':
      return { alloc: 'const out = new Uint8Array(n);', once: true, store: (v) => [`out[i] = ${v} ? 1 : 0;`] };
    case 'utf8':
      return { alloc: 'const out = new Array(n);', once: true, store: (v) => [`out[i] = ${v};`] };
    case 'vector':
      throw new UnsupportedError('vector results can only come from plain column references');
    default:
      return { alloc: 'const out = new Float64Array(n);', once: true, store: (v) => [`out[i] = ${v};`] };
  }
}

/** A literal's value converted, at compile time, to the in-loop representation of type `to`. */
function literalAs(e: Expr & { kind: 'literal' }, to: DataType): unknown {
  const v = e.value;
  const from = e.type;
  if (typeof v === 'string' && (to.kind === 'date32' || to.kind === 'timestamp') && from.kind === 'utf8') {
    const parsed = to.kind === 'date32' ? parseDate(v) : parseTimestamp(v);
    if (parsed === null) throw new AnalysisError(`cannot read '${v}' as a ${typeToString(to)} in ${exprToString(e)}`);
    return parsed;
  }
  if (typeof v !== 'number') return v;
  const fromScale = from.kind === 'decimal' ? from.scale : 0;
  switch (to.kind) {
    case 'decimal':
      return fromScale <= to.scale ? v * POW10[to.scale - fromScale]! : Math.round(v / POW10[fromScale - to.scale]!);
    case 'float64':
      return v / POW10[fromScale]!;
    case 'timestamp':
      return from.kind === 'date32' ? v * MICROS_PER_DAY : v;
    default:
      return v;
  }
}

/** Generate the kernel source for `e` over `input`, specialised to the given column layouts. */
export function generateKernel(
  e: Expr,
  input: Schema,
  layout: (column: number) => ColumnLayout,
  mode: KernelMode,
  sub: SubCompiler | null,
): KernelSource {
  if (mode === 'select') {
    const staged = new Generator(input, layout, sub).finishStagedSelect(e);
    if (staged) return staged;
  }
  return new Generator(input, layout, sub).finish(e, mode);
}

/** The conjuncts of a top-level AND chain (BETWEEN counts as two), in order. */
function conjuncts(e: Expr, out: Expr[] = []): Expr[] {
  if (e.kind === 'alias') return conjuncts(e.input, out);
  if (e.kind === 'binary' && e.op === 'and') {
    conjuncts(e.left, out);
    conjuncts(e.right, out);
  } else if (e.kind === 'between' && !e.negated) {
    out.push(binary('<=', e.low, e.input), binary('<=', e.input, e.high));
  } else {
    out.push(e);
  }
  return out;
}
