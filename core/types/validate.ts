// Validation of JSON at module boundaries (plans, tasks, executor messages, job specs) with zod, turned into
// AnalysisErrors that name the field: `invalid task at plan.input.exprs[2].op: …`.
import type { z } from 'zod';
import { AnalysisError } from './errors.ts';

/** A zod issue path as text: `plan.input.exprs[2].op`. */
export function issuePath(path: readonly PropertyKey[]): string {
  return path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('').replace(/^\./, '');
}

/** JSON text parsed; other values as they are. */
export function parseJsonText(input: unknown, what: string): unknown {
  if (typeof input !== 'string') return input;
  try {
    return JSON.parse(input);
  } catch (err) {
    throw new AnalysisError(`${what} is not valid JSON: ${(err as Error).message}`);
  }
}

/** `raw` checked against `schema`; the first problem becomes `invalid <what> at <path>: <message>`. */
export function validate<T>(schema: z.ZodType, raw: unknown, what: string): T {
  const result = schema.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new AnalysisError(`invalid ${what} at ${issuePath(issue.path) || '(root)'}: ${issue.message}`);
  }
  return result.data as T;
}

/** JSON text (or an already parsed value) checked against `schema`. */
export function parseValidated<T>(schema: z.ZodType, input: unknown, what: string): T {
  return validate<T>(schema, parseJsonText(input, what), what);
}
