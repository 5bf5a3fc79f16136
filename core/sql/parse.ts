// SQL text → node-sql-parser AST (PostgreSQL dialect). Constructs the parser lacks or gets wrong are rewritten
// first, on tokens and keeping every other character in place (so error positions stay exact):
// `substring(x FROM a FOR b)` → `substring(x, a, b)`; `CROSS JOIN` → `JOIN` without ON, which the translator
// reads as a cross join (the parser reads CROSS as a table alias); `INTERVAL '3' WEEK` (units it does not know, which it would read as a column alias) →
// `INTERVAL '3 WEEK'`; RANGE window frames equal to a default → forms it parses. After parsing, AND/OR chains
// are re-associated: the parser gives AND and OR the same precedence (`a OR b AND c` as `(a OR b) AND c`).
import pkg from 'node-sql-parser';
import { AnalysisError, UnsupportedError } from '../types/errors.ts';
import type { SqlNode } from './ast.ts';

const { Parser } = pkg;
const parser = new Parser();
const OPTIONS = { database: 'postgresql', parseOptions: { includeLocations: true } };

interface Token {
  readonly kind: 'word' | 'punct' | 'string' | 'quoted' | 'other';
  readonly text: string;
  readonly start: number;
}

/** Splits SQL into words, punctuation and quoted runs; comments and whitespace are dropped. */
function tokenize(sql: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < sql.length) {
    const c = sql[i]!;
    if (/\s/.test(c)) {
      i++;
    } else if (c === '-' && sql[i + 1] === '-') {
      while (i < sql.length && sql[i] !== '\n') i++;
    } else if (c === '/' && sql[i + 1] === '*') {
      const end = sql.indexOf('*/', i + 2);
      i = end < 0 ? sql.length : end + 2;
    } else if (c === "'" || c === '"') {
      const start = i++;
      while (i < sql.length) {
        if (sql[i] === c) {
          if (sql[i + 1] === c) i += 2;
          else break;
        } else i++;
      }
      i++;
      out.push({ kind: c === "'" ? 'string' : 'quoted', text: sql.slice(start, i), start });
    } else if (/[A-Za-z_]/.test(c)) {
      const start = i;
      while (i < sql.length && /[A-Za-z0-9_$]/.test(sql[i]!)) i++;
      out.push({ kind: 'word', text: sql.slice(start, i), start });
    } else if (c === '(' || c === ')' || c === ',') {
      out.push({ kind: 'punct', text: c, start: i++ });
    } else {
      out.push({ kind: 'other', text: c, start: i++ });
    }
  }
  return out;
}

const upper = (t: Token | undefined) => (t && t.kind === 'word' ? t.text.toUpperCase() : '');

/** Replaces `length` characters at `start` with `text` padded by spaces to the same length. */
function overwrite(chars: string[], start: number, length: number, text: string): void {
  const padded = text.padEnd(length, ' ');
  for (let k = 0; k < length; k++) chars[start + k] = padded[k]!;
}

function rewriteSubstring(tokens: Token[], chars: string[]): void {
  for (let i = 0; i + 1 < tokens.length; i++) {
    if (upper(tokens[i]) !== 'SUBSTRING' || tokens[i + 1]!.text !== '(') continue;
    let depth = 0;
    let from: Token | null = null;
    let forTok: Token | null = null;
    for (let j = i + 1; j < tokens.length; j++) {
      const t = tokens[j]!;
      if (t.text === '(' && t.kind === 'punct') depth++;
      else if (t.text === ')' && t.kind === 'punct') {
        if (--depth === 0) break;
      } else if (depth === 1 && upper(t) === 'FROM') from = t;
      else if (depth === 1 && upper(t) === 'FOR') forTok = t;
    }
    if (from) overwrite(chars, from.start, 4, ',');
    if (forTok) {
      // `substring(x FOR n)` without FROM starts at 1.
      if (!from) throw new UnsupportedError('substring(x FOR n) without FROM is not supported; use substring(x, 1, n)');
      overwrite(chars, forTok.start, 3, ',');
    }
  }
}

/**
 * RANGE frames: node-sql-parser parses ROWS frames only. `RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW`
 * (and `RANGE UNBOUNDED PRECEDING`) is the default frame of an ordered window, so it is blanked out;
 * `RANGE BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING` equals the ROWS frame of the same bounds.
 * Any other RANGE frame is left alone and fails to parse.
 */
function rewriteRangeFrames(tokens: Token[], chars: string[]): void {
  const words = (i: number, n: number) => tokens.slice(i, i + n).map(upper).join(' ');
  for (let i = 0; i < tokens.length; i++) {
    if (upper(tokens[i]) !== 'RANGE') continue;
    const t = tokens[i]!;
    if (words(i, 7) === 'RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW') {
      const last = tokens[i + 6]!;
      overwrite(chars, t.start, last.start + last.text.length - t.start, '');
    } else if (words(i, 3) === 'RANGE UNBOUNDED PRECEDING') {
      const last = tokens[i + 2]!;
      overwrite(chars, t.start, last.start + last.text.length - t.start, '');
    } else if (words(i, 7) === 'RANGE BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING') {
      overwrite(chars, t.start, 5, 'ROWS');
    } else {
      throw new UnsupportedError(
        `window frame at ${position(chars.join(''), t.start)} is not supported: only RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW / UNBOUNDED FOLLOWING, and ROWS frames`,
      );
    }
  }
}

function position(text: string, offset: number): string {
  const before = text.slice(0, offset).split('\n');
  return `line ${before.length}, column ${before[before.length - 1]!.length + 1}`;
}

function rewriteJoins(sql: string, tokens: Token[], chars: string[]): void {
  for (let i = 0; i + 1 < tokens.length; i++) {
    const t = tokens[i]!;
    const next = upper(tokens[i + 1]);
    if (upper(t) === 'NATURAL' && ['JOIN', 'INNER', 'LEFT', 'RIGHT', 'FULL'].includes(next)) {
      throw new UnsupportedError(`NATURAL JOIN at ${position(sql, t.start)} is not supported; use JOIN ... USING (columns)`);
    }
    if (upper(t) === 'CROSS' && next === 'JOIN') {
      overwrite(chars, t.start, 5, '');
    }
  }
}

const UNKNOWN_INTERVAL_UNITS = new Set(['WEEK', 'WEEKS', 'QUARTER', 'QUARTERS', 'DAYS', 'MONTHS', 'YEARS']);

function rewriteIntervalUnits(tokens: Token[], chars: string[]): void {
  for (let i = 0; i + 2 < tokens.length; i++) {
    const value = tokens[i + 1]!;
    const unit = tokens[i + 2]!;
    if (upper(tokens[i]) !== 'INTERVAL' || value.kind !== 'string' || !/^'-?\d+'$/.test(value.text) || !UNKNOWN_INTERVAL_UNITS.has(upper(unit))) continue;
    // `'3'  week` → `'3  week'`: the closing quote moves behind the unit.
    const start = value.start + value.text.length - 1;
    const end = unit.start + unit.text.length;
    const span = chars.slice(start, end).join('');
    overwrite(chars, start, end - start, `${span.slice(1)}'`);
  }
}

/** The text rewritten so node-sql-parser accepts it; same length and line structure as the input. */
export function preprocessSql(sql: string): string {
  const tokens = tokenize(sql);
  const chars = [...sql];
  rewriteSubstring(tokens, chars);
  rewriteRangeFrames(tokens, chars);
  rewriteJoins(sql, tokens, chars);
  rewriteIntervalUnits(tokens, chars);
  return chars.join('');
}

const isBool = (n: SqlNode, op: string) => n?.type === 'binary_expr' && String(n.operator).toUpperCase() === op;

/**
 * Re-associates every unparenthesized AND/OR chain with AND binding tighter than OR, in place, through the
 * whole tree (subqueries included). Parenthesized groups carry `parentheses: true` and stay atoms.
 */
export function fixBooleanPrecedence(node: SqlNode): void {
  if (!node || typeof node !== 'object') return;
  if (Array.isArray(node)) {
    node.forEach(fixBooleanPrecedence);
    return;
  }
  if (isBool(node, 'AND') || isBool(node, 'OR')) {
    const operands: SqlNode[] = [];
    const ops: string[] = [];
    const flatten = (n: SqlNode, top: boolean) => {
      if ((isBool(n, 'AND') || isBool(n, 'OR')) && (top || !n.parentheses)) {
        flatten(n.left, false);
        ops.push(String(n.operator).toUpperCase());
        flatten(n.right, false);
      } else operands.push(n);
    };
    flatten(node, true);
    operands.forEach(fixBooleanPrecedence);
    // OR of AND-groups.
    const groups: SqlNode[][] = [[operands[0]]];
    ops.forEach((op, i) => (op === 'AND' ? groups[groups.length - 1]!.push(operands[i + 1]) : groups.push([operands[i + 1]])));
    const chain = (items: SqlNode[], op: string): SqlNode =>
      items.reduce((l, r) => ({ type: 'binary_expr', operator: op, left: l, right: r, loc: node.loc }));
    const rebuilt = chain(groups.map((g) => chain(g, 'AND')), 'OR');
    if (rebuilt !== node) {
      node.operator = rebuilt.operator;
      node.left = rebuilt.left;
      node.right = rebuilt.right;
    }
    return;
  }
  for (const [k, v] of Object.entries(node)) if (k !== 'loc' && v && typeof v === 'object') fixBooleanPrecedence(v);
}

/** Parses one SELECT statement (with WITH and set operations); errors name the position. */
export function parseSql(sql: string): SqlNode {
  const text = preprocessSql(sql);
  let ast: SqlNode;
  try {
    ast = parser.astify(text, OPTIONS);
  } catch (err) {
    const e = err as { message?: string; location?: { start: { line: number; column: number; offset: number } } };
    if (!e.location) throw new AnalysisError(`SQL syntax error: ${e.message ?? String(err)}`, { cause: err });
    const { line, column, offset } = e.location.start;
    const found = /but (.*) found\.?$/.exec(e.message ?? '')?.[1] ?? 'input';
    const lineText = sql.split('\n')[line - 1] ?? '';
    const near = lineText.slice(Math.max(0, column - 1), column + 29).trim();
    const what = offset >= sql.length ? 'unexpected end of input' : `unexpected ${found}`;
    throw new AnalysisError(`SQL syntax error at line ${line}, column ${column}: ${what}${near ? ` near "${near}"` : ''}`, { cause: err });
  }
  if (Array.isArray(ast)) {
    const stmts = ast.filter((s) => s);
    if (stmts.length !== 1) throw new UnsupportedError(`session.sql() runs exactly one statement, got ${stmts.length}`);
    ast = stmts[0];
  }
  fixBooleanPrecedence(ast);
  if (!ast || ast.type !== 'select') {
    throw new UnsupportedError(`only SELECT queries are supported by session.sql(), got ${String(ast?.type ?? 'nothing').toUpperCase()}`);
  }
  return ast;
}

/** SQL text of an AST expression, for error messages; null if the parser cannot print it. */
export function nodeToSql(node: SqlNode): string | null {
  try {
    const s = parser.exprToSQL(node, { database: 'postgresql' });
    return typeof s === 'string' && s.length ? s : null;
  } catch {
    return null;
  }
}
