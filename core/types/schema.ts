// Fields and schemas, with name resolution that fails with the missing name, the available names and the
// closest match.
import { distance } from 'fastest-levenshtein';
import { AnalysisError } from './errors.ts';
import { type DataType, typeToString } from './data-type.ts';

export interface Field {
  readonly name: string;
  readonly type: DataType;
  readonly nullable: boolean;
  /** Table or DataFrame alias the column came from, used to tell apart equal names after a join. */
  readonly qualifier?: string;
}

export interface Schema {
  readonly fields: readonly Field[];
}

export function field(name: string, type: DataType, nullable = true, qualifier?: string): Field {
  return Object.freeze(qualifier === undefined ? { name, type, nullable } : { name, type, nullable, qualifier });
}

export function schema(fields: readonly Field[]): Schema {
  return Object.freeze({ fields: Object.freeze([...fields]) });
}

export function fieldNames(s: Schema): string[] {
  return s.fields.map((f) => f.name);
}

export function qualifiedName(f: Field): string {
  return f.qualifier ? `${f.qualifier}.${f.name}` : f.name;
}

/** The closest of `candidates` to `name`, if it is close enough to be a plausible typo. */
export function closestName(name: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  const lower = name.toLowerCase();
  for (const c of candidates) {
    const d = c.toLowerCase() === lower ? 0 : distance(lower, c.toLowerCase());
    if (d < bestDistance) {
      bestDistance = d;
      best = c;
    }
  }
  const limit = Math.max(2, Math.floor(name.length / 3));
  return bestDistance <= limit ? best : undefined;
}

/**
 * Index of the field called `name` (optionally under `qualifier`). Names match exactly first, then
 * case-insensitively (as Spark's default). Throws an AnalysisError naming the column, listing the available
 * ones and suggesting the closest.
 */
export function resolveField(s: Schema, name: string, qualifier?: string, index?: number): number {
  if (index !== undefined) {
    if (index < 0 || index >= s.fields.length || s.fields[index]!.name !== name) {
      throw new AnalysisError(`internal: bound column #${index} '${name}' does not match the input schema (${s.fields.map(qualifiedName).join(', ')})`);
    }
    return index;
  }
  const matches = (exact: boolean) => {
    const out: number[] = [];
    s.fields.forEach((f, i) => {
      if (qualifier !== undefined && (f.qualifier ?? '').toLowerCase() !== qualifier.toLowerCase()) return;
      if (exact ? f.name === name : f.name.toLowerCase() === name.toLowerCase()) out.push(i);
    });
    return out;
  };
  let found = matches(true);
  if (found.length === 0) found = matches(false);
  const shown = qualifier ? `${qualifier}.${name}` : name;
  if (found.length === 1) return found[0]!;
  if (found.length > 1) {
    const options = found.map((i) => qualifiedName(s.fields[i]!)).join(', ');
    throw new AnalysisError(`column reference '${shown}' is ambiguous: it could be any of ${options}; qualify it with a DataFrame alias`);
  }
  const available = s.fields.map(qualifiedName);
  const suggestion = closestName(name, s.fields.map((f) => f.name));
  const hint = suggestion !== undefined ? ` Did you mean '${suggestion}'?` : '';
  throw new AnalysisError(
    `column '${shown}' does not exist. Available columns: ${available.length ? available.join(', ') : '(none)'}.${hint}`,
  );
}

export function schemaToString(s: Schema): string {
  const lines = ['root'];
  for (const f of s.fields) lines.push(` |-- ${f.name}: ${typeToString(f.type)} (nullable = ${f.nullable})`);
  return lines.join('\n');
}
