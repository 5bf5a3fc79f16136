// Typed parameters, after Spark ML's Params: every stage declares its parameters (doc, default, a check), takes
// overrides in its constructor (`new StandardScaler({ inputCol: 'features', withMean: true })`), and has
// `set`, `get`, `copy(overrides)` and `explainParams()`. A bad value fails when it is set, naming the stage and
// the parameter.
import { randomBytes } from 'node:crypto';
import { AnalysisError } from '../types/errors.ts';

export type ParamKind = 'string' | 'number' | 'boolean' | 'strings' | 'numbers' | 'enum';

export interface ParamSpec<T> {
  readonly kind: ParamKind;
  readonly doc: string;
  /** Absent: the parameter has no default and must be set before the stage runs. */
  readonly default?: T;
  /** For 'enum': the allowed values. */
  readonly values?: readonly string[];
  /** For 'number': inclusive bounds and whether it must be an integer. */
  readonly min?: number;
  readonly max?: number;
  readonly integer?: boolean;
}

/** One spec per parameter of P. */
export type ParamSpecs<P> = { readonly [K in keyof P]-?: ParamSpec<P[K]> };

/** Spec builders: `param.string('input column name')`, `param.number('max iterations', 100, { min: 0, integer: true })`. */
export const param = {
  string: (doc: string, def?: string): ParamSpec<string> => ({ kind: 'string', doc, ...(def !== undefined ? { default: def } : {}) }),
  strings: (doc: string, def?: readonly string[]): ParamSpec<readonly string[]> => ({ kind: 'strings', doc, ...(def !== undefined ? { default: def } : {}) }),
  numbers: (doc: string, def?: readonly number[]): ParamSpec<readonly number[]> => ({ kind: 'numbers', doc, ...(def !== undefined ? { default: def } : {}) }),
  boolean: (doc: string, def: boolean): ParamSpec<boolean> => ({ kind: 'boolean', doc, default: def }),
  number: (doc: string, def: number | undefined, bounds: { min?: number; max?: number; integer?: boolean } = {}): ParamSpec<number> => ({
    kind: 'number',
    doc,
    ...(def !== undefined ? { default: def } : {}),
    ...bounds,
  }),
  oneOf: <T extends string>(doc: string, values: readonly T[], def: T): ParamSpec<T> => ({ kind: 'enum', doc, values, default: def }),
};

/** A unique id per stage instance, as Spark's `Identifiable`: `StandardScaler_4f0c2a9b1e77`. */
export function makeUid(prefix: string): string {
  return `${prefix}_${randomBytes(6).toString('hex')}`;
}

export abstract class Params<P extends object> {
  /** The stage's unique id; kept by `copy` and by save/load. */
  readonly uid: string;
  /** The class name saved in metadata and used by `load` to pick the loader (also the uid's prefix). */
  readonly className: string;
  /** The values set explicitly (constructor, `set`, `copy`); defaults are not copied in here. */
  private values: Partial<P> = {};

  protected constructor(
    readonly specs: ParamSpecs<P>,
    uidPrefix: string,
    values: Partial<P> = {},
    uid?: string,
  ) {
    this.className = uidPrefix;
    this.uid = uid ?? makeUid(uidPrefix);
    this.set(values);
  }

  /** The parameter names, in declaration order. */
  get paramNames(): (keyof P & string)[] {
    return Object.keys(this.specs) as (keyof P & string)[];
  }

  /** Sets one parameter (`set('withMean', true)`) or several (`set({ withMean: true })`); returns this stage. */
  set<K extends keyof P>(name: K, value: P[K]): this;
  set(values: Partial<P>): this;
  set<K extends keyof P>(nameOrValues: K | Partial<P>, value?: P[K]): this {
    const entries: [string, unknown][] = typeof nameOrValues === 'object' ? Object.entries(nameOrValues) : [[nameOrValues as string, value]];
    for (const [name, v] of entries) {
      if (v === undefined) continue;
      const spec = (this.specs as Record<string, ParamSpec<unknown>>)[name];
      if (!spec) {
        throw new AnalysisError(`${this.uid} has no parameter '${name}'. Its parameters: ${this.paramNames.join(', ')}`);
      }
      checkValue(this.uid, name, spec, v);
      (this.values as Record<string, unknown>)[name] = Array.isArray(v) ? Object.freeze([...v]) : v;
    }
    return this;
  }

  /** The value set, else the default; throws naming the parameter when it has neither. */
  get<K extends keyof P>(name: K): P[K] {
    const v = this.values[name];
    if (v !== undefined) return v as P[K];
    const spec = this.specs[name];
    if (!spec) throw new AnalysisError(`${this.uid} has no parameter '${String(name)}'`);
    if (spec.default !== undefined) return spec.default as P[K];
    throw new AnalysisError(`${this.uid}: parameter '${String(name)}' (${spec.doc}) is not set and has no default`);
  }

  /** Whether the parameter was set explicitly. */
  isSet(name: keyof P): boolean {
    return this.values[name] !== undefined;
  }

  /** Whether the parameter has a value (set or default). */
  isDefined(name: keyof P): boolean {
    return this.isSet(name) || this.specs[name]?.default !== undefined;
  }

  /** The explicitly set values. */
  paramMap(): Partial<P> {
    return { ...this.values };
  }

  /** Every defined parameter's value (set values over defaults). */
  extractParamMap(): Partial<P> {
    const out: Record<string, unknown> = {};
    for (const n of this.paramNames) {
      if (this.isDefined(n)) out[n] = this.get(n);
    }
    return out as Partial<P>;
  }

  /** A copy with the same uid (and fitted state, for models) and `overrides` applied. */
  copy(overrides: Partial<P> = {}): this {
    const c = Object.create(Object.getPrototypeOf(this)) as this;
    Object.assign(c, this);
    (c as unknown as { values: Partial<P> }).values = { ...this.values };
    return c.set(overrides);
  }

  /** One line per parameter: `name: doc (default: x, current: y)`, as Spark's explainParams. */
  explainParams(): string {
    return this.paramNames
      .map((n) => {
        const spec = this.specs[n];
        const parts: string[] = [];
        if (spec.default !== undefined) parts.push(`default: ${show(spec.default)}`);
        if (this.isSet(n)) parts.push(`current: ${show(this.values[n])}`);
        if (!this.isDefined(n)) parts.push('undefined');
        const allowed = spec.values ? ` Supported: ${spec.values.join(', ')}.` : '';
        return `${n}: ${spec.doc}.${allowed} (${parts.join(', ')})`;
      })
      .join('\n');
  }
}

function show(v: unknown): string {
  return Array.isArray(v) ? `[${v.join(', ')}]` : typeof v === 'string' ? `'${v}'` : String(v);
}

function checkValue(uid: string, name: string, spec: ParamSpec<unknown>, v: unknown): void {
  const bad = (expected: string) => new AnalysisError(`${uid}: parameter '${name}' expects ${expected}, got ${JSON.stringify(v) ?? String(v)}`);
  switch (spec.kind) {
    case 'string':
      if (typeof v !== 'string') throw bad('a string');
      return;
    case 'strings':
      if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw bad('an array of strings');
      return;
    case 'numbers':
      if (!Array.isArray(v) || !v.every((x) => typeof x === 'number' && Number.isFinite(x))) throw bad('an array of finite numbers');
      return;
    case 'boolean':
      if (typeof v !== 'boolean') throw bad('a boolean');
      return;
    case 'enum':
      if (typeof v !== 'string' || !spec.values!.includes(v)) throw bad(`one of ${spec.values!.map((x) => `'${x}'`).join(', ')}`);
      return;
    case 'number': {
      if (typeof v !== 'number' || Number.isNaN(v)) throw bad('a number');
      if (spec.integer && !Number.isInteger(v)) throw bad('an integer');
      if (spec.min !== undefined && v < spec.min) throw bad(`a number ≥ ${spec.min}`);
      if (spec.max !== undefined && v > spec.max) throw bad(`a number ≤ ${spec.max}`);
      return;
    }
  }
}
