// S3 trigger rules: which new objects start which job. A rule matches an object by bucket (optional), key prefix
// and key suffix (optional); its job is a JobSpec template whose strings may name the object:
//
//   { "version": 1, "rules": [ { "id": "daily-report", "bucket": "squall", "prefix": "incoming/", "suffix": ".parquet",
//       "job": { "sql": "SELECT l_returnflag, count(*) AS n FROM t GROUP BY 1",
//                "tables": { "t": { "path": "${uri}" } },
//                "options": { "resultUri": "s3://${bucket}/reports/${stem}" } } } ] }
//
// Placeholders: ${key} (the decoded object key), ${uri} (s3://bucket/key), ${bucket}, ${basename} (the last
// segment of the key), ${stem} (the basename without its last extension), ${date} (the event's UTC day,
// yyyy-mm-dd). Substitution is textual but never lets a value change the job's structure:
//   - in the SQL text a placeholder may appear only inside a single-quoted string literal without backslashes
//     (checked when the rules are loaded); the value is escaped there ('' for '), and a value holding a
//     backslash or a control character is refused (the SQL parser reads backslash escapes inside literals);
//   - in table paths a value holding a glob character (* ? [) is refused, so an object name cannot widen the
//     input to other files;
//   - everywhere else (resultUri, strings inside a saved plan) the value is one JSON string value, nothing more.
// The substituted job is validated again with parseJobSpec.
import { z } from 'zod';
import { AnalysisError } from '../types/errors.ts';
import { type JobSpec, jobSpecSchema, parseJobSpec } from './job-spec.ts';

export const TRIGGER_RULES_VERSION = 1;

export const PLACEHOLDERS = ['key', 'uri', 'bucket', 'basename', 'stem', 'date'] as const;
export type Placeholder = (typeof PLACEHOLDERS)[number];
export type PlaceholderValues = Readonly<Record<Placeholder, string>>;

export interface TriggerRule {
  /** Letters, digits, '_' and '-' (at most 48): it becomes part of the job ids the rule starts. */
  readonly id: string;
  readonly bucket?: string;
  readonly prefix: string;
  readonly suffix?: string;
  /** A JobSpec whose strings may hold placeholders. */
  readonly job: JobSpec;
}

export interface TriggerRules {
  readonly version: typeof TRIGGER_RULES_VERSION;
  readonly rules: readonly TriggerRule[];
}

const PLACEHOLDER = /\$\{([^}]*)\}/g;

const ruleSchema = z
  .object({
    id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,47}$/, 'rule ids are 1-48 letters, digits, _ and - (starting with a letter or digit)'),
    bucket: z.string().min(1).optional(),
    prefix: z.string(),
    suffix: z.string().min(1).optional(),
    job: jobSpecSchema,
  })
  .strict();

const rulesSchema = z
  .object({
    version: z.literal(TRIGGER_RULES_VERSION, { message: `version must be ${TRIGGER_RULES_VERSION}` }),
    rules: z.array(ruleSchema),
  })
  .strict();

function pathText(path: readonly PropertyKey[]): string {
  return path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('').replace(/^\./, '');
}

/** Where a problem is: `rule 'x' (rules[2]) at job.tables.t.path`. */
function where(input: unknown, path: readonly PropertyKey[]): string {
  if (path[0] === 'rules' && typeof path[1] === 'number') {
    const raw = (input as { rules?: unknown[] } | null)?.rules?.[path[1]] as { id?: unknown } | undefined;
    const name = typeof raw?.id === 'string' ? `rule '${raw.id}' (rules[${path[1]}])` : `rules[${path[1]}]`;
    const rest = pathText(path.slice(2));
    return rest ? `${name} at ${rest}` : name;
  }
  const p = pathText(path);
  return p ? `at ${p}` : '';
}

/** Every string in a JSON value with its path. */
function* strings(value: unknown, path: PropertyKey[] = []): Generator<[string, PropertyKey[]]> {
  if (typeof value === 'string') yield [value, path];
  else if (Array.isArray(value)) for (let i = 0; i < value.length; i++) yield* strings(value[i], [...path, i]);
  else if (value !== null && typeof value === 'object') for (const [k, v] of Object.entries(value)) yield* strings(v, [...path, k]);
}

/** Parses and checks trigger rules (from JSON text or a parsed value); errors name the rule and the field. */
export function parseTriggerRules(input: unknown, source = 'trigger rules'): TriggerRules {
  let value = input;
  if (typeof input === 'string') {
    try {
      value = JSON.parse(input);
    } catch (e) {
      throw new AnalysisError(`${source}: not JSON (${(e as Error).message})`);
    }
  }
  const r = rulesSchema.safeParse(value);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    const w = where(value, issue.path);
    throw new AnalysisError(`${source}: invalid ${w ? `${w}` : 'rules'}: ${issue.message}`);
  }
  const rules = r.data.rules as unknown as TriggerRule[];
  const ids = new Set<string>();
  rules.forEach((rule, i) => {
    const fail = (path: PropertyKey[], message: string): never => {
      throw new AnalysisError(`${source}: invalid ${where(value, ['rules', i, ...path])}: ${message}`);
    };
    if (ids.has(rule.id)) fail(['id'], `duplicate rule id '${rule.id}'`);
    ids.add(rule.id);
    for (const [text, path] of strings(rule.job, ['job'])) {
      for (const m of text.matchAll(PLACEHOLDER)) {
        if (!(PLACEHOLDERS as readonly string[]).includes(m[1]!)) {
          fail(path, `unknown placeholder '${m[0]}' (use ${PLACEHOLDERS.map((p) => `\${${p}}`).join(', ')})`);
        }
      }
    }
    if (rule.job.sql !== undefined) {
      const outside = placeholdersOutsideLiterals(rule.job.sql);
      if (outside.length > 0) {
        fail(['job', 'sql'], `placeholder '${outside[0]}' outside a string literal; in SQL, placeholders go inside single quotes ('\${key}')`);
      }
      const escaped = literalsWithBackslashAndPlaceholder(rule.job.sql);
      if (escaped.length > 0) fail(['job', 'sql'], `the string literal '${escaped[0]}' holds a placeholder and a backslash; a backslash could escape the value`);
    }
  });
  return { version: TRIGGER_RULES_VERSION, rules };
}

type SqlPart = { readonly literal: boolean; readonly text: string };

/**
 * Splits SQL text into single-quoted string literal bodies (the text between the quotes) and everything else,
 * reading quotes the way the SQL parser does: '' and a backslash escape inside literals, "…" identifiers
 * (with ""), -- line comments and block comments.
 */
function splitSql(sql: string): SqlPart[] {
  const parts: SqlPart[] = [];
  let i = 0;
  let start = 0;
  const push = (literal: boolean, from: number, to: number) => {
    if (to > from) parts.push({ literal, text: sql.slice(from, to) });
  };
  while (i < sql.length) {
    const c = sql[i]!;
    if (c === "'") {
      push(false, start, i + 1);
      let j = i + 1;
      for (;;) {
        if (j >= sql.length) break;
        if (sql[j] === '\\') j += 2;
        else if (sql[j] === "'" && sql[j + 1] === "'") j += 2;
        else if (sql[j] === "'") break;
        else j++;
      }
      push(true, i + 1, Math.min(j, sql.length));
      i = j + 1;
      start = Math.min(j, sql.length);
    } else if (c === '"') {
      let j = i + 1;
      while (j < sql.length && !(sql[j] === '"' && sql[j + 1] !== '"')) j += sql[j] === '"' ? 2 : 1;
      i = j + 1;
    } else if (c === '-' && sql[i + 1] === '-') {
      const nl = sql.indexOf('\n', i);
      i = nl < 0 ? sql.length : nl + 1;
    } else if (c === '/' && sql[i + 1] === '*') {
      const end = sql.indexOf('*/', i + 2);
      i = end < 0 ? sql.length : end + 2;
    } else i++;
  }
  push(false, start, sql.length);
  return parts;
}

/** String literals that hold both a placeholder and a backslash (which could escape the value's first character). */
function literalsWithBackslashAndPlaceholder(sql: string): string[] {
  return splitSql(sql)
    .filter((p) => p.literal && p.text.includes('\\') && /\$\{[^}]*\}/.test(p.text))
    .map((p) => p.text);
}

function placeholdersOutsideLiterals(sql: string): string[] {
  return splitSql(sql)
    .filter((p) => !p.literal)
    .flatMap((p) => [...p.text.matchAll(PLACEHOLDER)].map((m) => m[0]));
}

/** Replaces placeholders; `check` may refuse a value, `escape` rewrites it for its context. */
function substitute(text: string, values: PlaceholderValues, check?: (value: string, name: Placeholder) => void, escape = (v: string) => v): string {
  return text.replace(PLACEHOLDER, (_, name: string) => {
    const v = values[name as Placeholder];
    if (v === undefined) throw new AnalysisError(`unknown placeholder '\${${name}}'`);
    check?.(v, name as Placeholder);
    return escape(v);
  });
}

function substituteSql(sql: string, values: PlaceholderValues): string {
  return splitSql(sql)
    .map((p) => {
      if (!p.literal) {
        const m = /\$\{[^}]*\}/.exec(p.text);
        if (m) throw new AnalysisError(`placeholder '${m[0]}' outside a SQL string literal`);
        return p.text;
      }
      if (p.text.includes('\\') && /\$\{[^}]*\}/.test(p.text)) throw new AnalysisError('a SQL string literal holding a placeholder cannot hold a backslash');
      // Inside a literal: quotes in the value are doubled; backslashes and control characters are refused.
      const check = (v: string, name: Placeholder) => {
        // eslint-disable-next-line no-control-regex
        if (/[\\\u0000-\u001f\u007f]/.test(v)) throw new AnalysisError(`\${${name}} holds a backslash or control character, which cannot go into a SQL literal`);
      };
      return substitute(p.text, values, check, (v) => v.replace(/'/g, "''"));
    })
    .join('');
}

/** The placeholder values for an object: `key` decoded, `eventTime` an ISO time (today when absent). */
export function placeholderValues(bucket: string, key: string, eventTime?: string): PlaceholderValues {
  const basename = key.slice(key.lastIndexOf('/') + 1);
  const dot = basename.lastIndexOf('.');
  const t = eventTime ? new Date(eventTime) : new Date();
  const date = (Number.isNaN(t.getTime()) ? new Date() : t).toISOString().slice(0, 10);
  return { key, uri: `s3://${bucket}/${key}`, bucket, basename, stem: dot > 0 ? basename.slice(0, dot) : basename, date };
}

/** The rule's job for an object: placeholders replaced (see the header for the safety rules), then validated. */
export function instantiateJob(rule: TriggerRule, values: PlaceholderValues): JobSpec {
  const fail = (field: string, e: unknown): never => {
    throw new AnalysisError(`rule '${rule.id}': cannot instantiate job.${field} for ${values.uri}: ${(e as Error).message}`);
  };
  const walk = (v: unknown, field: string): unknown => {
    if (typeof v === 'string') {
      try {
        return substitute(v, values);
      } catch (e) {
        return fail(field, e);
      }
    }
    if (Array.isArray(v)) return v.map((x, i) => walk(x, `${field}[${i}]`));
    if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x, `${field}.${k}`)]));
    return v;
  };
  const job = rule.job;
  const out: Record<string, unknown> = {};
  if (job.sql !== undefined) {
    try {
      out.sql = substituteSql(job.sql, values);
    } catch (e) {
      fail('sql', e);
    }
  }
  if (job.plan !== undefined) out.plan = walk(job.plan, 'plan');
  if (job.tables !== undefined) {
    const tables: Record<string, unknown> = {};
    for (const [name, t] of Object.entries(job.tables)) {
      const one = (p: string, field: string) => {
        try {
          return substitute(p, values, (v, n) => {
            if (/[*?[]/.test(v)) throw new AnalysisError(`\${${n}} holds a glob character (* ? [), which would widen the table's input`);
          });
        } catch (e) {
          return fail(field, e);
        }
      };
      const path = typeof t.path === 'string' ? one(t.path, `tables.${name}.path`) : t.path.map((p, i) => one(p, `tables.${name}.path[${i}]`));
      tables[name] = { ...t, path };
    }
    out.tables = tables;
  }
  if (job.options !== undefined) out.options = walk(job.options, 'options');
  try {
    return parseJobSpec(out);
  } catch (e) {
    return fail('', e);
  }
}

/** The first rule matching the object (bucket when the rule names one, key prefix, key suffix), or null. */
export function matchRule(rules: TriggerRules, bucket: string, key: string): TriggerRule | null {
  for (const r of rules.rules) {
    if (r.bucket !== undefined && r.bucket !== bucket) continue;
    if (!key.startsWith(r.prefix)) continue;
    if (r.suffix !== undefined && !key.endsWith(r.suffix)) continue;
    return r;
  }
  return null;
}
