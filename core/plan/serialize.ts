// Plans cross process boundaries (SDK → coordinator → executors) as JSON with a version. Incoming plans are
// validated with zod, so a malformed plan is rejected at the boundary with the path of the bad field instead
// of failing somewhere inside the engine.
import { z } from 'zod';
import { AGGREGATE_FUNCTIONS, BINARY_OPS, type Expr, SCALAR_FUNCTIONS, WINDOW_FRAMES, WINDOW_FUNCTIONS } from '../expr/expr.ts';
import type { DataType } from '../types/data-type.ts';
import type { ModelRef } from '../expr/model-ref.ts';
import { parseJsonText, validate } from '../types/validate.ts';
import { AnalysisError } from '../types/errors.ts';
import type { Schema } from '../types/schema.ts';
import { planSchema } from './analyzer.ts';
import { type LogicalPlan, PLAN_VERSION, type PlanKind, type SerializedPlan } from './logical-plan.ts';

export const dataTypeSchema: z.ZodType<DataType> = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('null') }),
  z.object({ kind: z.literal('bool') }),
  z.object({ kind: z.literal('int32') }),
  z.object({ kind: z.literal('int64') }),
  z.object({ kind: z.literal('float64') }),
  z.object({ kind: z.literal('decimal'), precision: z.number().int().min(1).max(18), scale: z.number().int().min(0).max(18) }),
  z.object({ kind: z.literal('utf8') }),
  z.object({ kind: z.literal('date32') }),
  z.object({ kind: z.literal('timestamp') }),
  z.object({ kind: z.literal('vector'), size: z.number().int().positive() }),
]);

export const schemaSchema: z.ZodType<Schema> = z.object({
  fields: z.array(z.object({ name: z.string(), type: dataTypeSchema, nullable: z.boolean(), qualifier: z.string().optional() })),
});

export const modelRefSchema: z.ZodType<ModelRef> = z.object({
  uri: z.string().min(1),
  className: z.string().min(1),
  bytes: z.number().int().nonnegative(),
  workerKind: z.enum(['lambda', 'container', 'container-gpu']).optional(),
  device: z.enum(['auto', 'cpu', 'gpu']),
  maxBatchRows: z.number().int().positive().optional(),
  deadLetter: z.string().min(1).optional(),
  modules: z.array(z.string().min(1)).optional(),
});

const literalValue = z.union([z.null(), z.boolean(), z.number(), z.string(), z.array(z.number())]);

export const exprSchema: z.ZodType<Expr> = z.lazy(() =>
  z.discriminatedUnion('kind', [
    z.object({
      kind: z.literal('column'),
      name: z.string(),
      qualifier: z.string().optional(),
      index: z.number().int().nonnegative().optional(),
      planId: z.number().int().optional(),
    }),
    z.object({ kind: z.literal('literal'), value: literalValue, type: dataTypeSchema }),
    z.object({ kind: z.literal('binary'), op: z.enum(BINARY_OPS), left: exprSchema, right: exprSchema }),
    z.object({ kind: z.literal('not'), input: exprSchema }),
    z.object({ kind: z.literal('negate'), input: exprSchema }),
    z.object({ kind: z.literal('is_null'), input: exprSchema, negated: z.boolean() }),
    z.object({ kind: z.literal('cast'), input: exprSchema, to: dataTypeSchema }),
    z.object({ kind: z.literal('case'), branches: z.array(z.object({ when: exprSchema, then: exprSchema })), otherwise: exprSchema.nullable() }),
    z.object({ kind: z.literal('in'), input: exprSchema, list: z.array(exprSchema), negated: z.boolean() }),
    z.object({ kind: z.literal('between'), input: exprSchema, low: exprSchema, high: exprSchema, negated: z.boolean() }),
    z.object({ kind: z.literal('like'), input: exprSchema, pattern: z.string(), negated: z.boolean(), caseInsensitive: z.boolean() }),
    z.object({ kind: z.literal('call'), fn: z.enum(SCALAR_FUNCTIONS), args: z.array(exprSchema) }),
    z.object({ kind: z.literal('alias'), input: exprSchema, name: z.string() }),
    z.object({
      kind: z.literal('udf'),
      name: z.string().min(1),
      fn: z.object({ source: z.string().min(1), context: z.string().nullable() }),
      returnType: dataTypeSchema,
      args: z.array(exprSchema),
    }),
    z.object({
      kind: z.literal('model_call'),
      name: z.string().min(1),
      model: modelRefSchema,
      inputs: z.array(z.string()),
      output: z.object({ name: z.string(), type: dataTypeSchema, nullable: z.boolean() }),
      args: z.array(exprSchema),
    }),
    z.object({ kind: z.literal('aggregate'), fn: z.enum(AGGREGATE_FUNCTIONS), args: z.array(exprSchema) }),
    z.object({
      kind: z.literal('window'),
      fn: z.enum(WINDOW_FUNCTIONS),
      args: z.array(exprSchema),
      partitionBy: z.array(exprSchema),
      orderBy: z.array(sortOrder),
      frame: z.enum(WINDOW_FRAMES),
    }),
  ]),
);

const sortOrder = z.object({ get expr() { return exprSchema; }, ascending: z.boolean(), nullsFirst: z.boolean() });
const strings = z.array(z.string());
const stat = z.union([z.number(), z.string(), z.boolean()]);

export const scanSourceSchema = z.discriminatedUnion('format', [
  z.object({ format: z.literal('parquet'), paths: strings }),
  z.object({
    format: z.literal('csv'),
    paths: strings,
    options: z.object({ header: z.boolean(), delimiter: z.string(), quote: z.string(), nullValue: z.string() }),
  }),
  z.object({ format: z.literal('json'), paths: strings }),
  z
    .object({
      format: z.literal('images'),
      paths: strings,
      sizes: z.array(z.number().int().nonnegative()),
      versions: strings,
      options: z.object({ dropInvalid: z.boolean(), imagesPerBatch: z.number().int().positive() }),
    })
    .refine((s) => s.sizes.length === s.paths.length && s.versions.length === s.paths.length, {
      message: 'an image source has one size and one version per path',
    }),
  z.object({ format: z.literal('memory'), id: z.string() }),
]);

export const joinTypeSchema = z.enum(['inner', 'left', 'right', 'full', 'semi', 'anti', 'cross']);

// One entry per plan kind: a kind added to LogicalPlan without a schema here is a type error.
const planShapes: Record<PlanKind, z.ZodType> = {
  scan: z.object({
    kind: z.literal('scan'),
    source: scanSourceSchema,
    schema: schemaSchema,
    projection: strings.nullable(),
    filters: z.array(exprSchema),
    alias: z.string().optional(),
    statistics: z
      .object({
        rowCount: z.number().nonnegative(),
        sizeInBytes: z.number().nonnegative().optional(),
        columns: z.record(z.string(), z.object({ min: stat.optional(), max: stat.optional(), nullCount: z.number().optional() })).optional(),
      })
      .optional(),
  }),
  project: z.object({ kind: z.literal('project'), get input() { return plan; }, exprs: z.array(exprSchema) }),
  filter: z.object({ kind: z.literal('filter'), get input() { return plan; }, condition: exprSchema }),
  aggregate: z.object({ kind: z.literal('aggregate'), get input() { return plan; }, groupBy: z.array(exprSchema), aggregates: z.array(exprSchema) }),
  join: z.object({
    kind: z.literal('join'),
    get left() { return plan; },
    get right() { return plan; },
    joinType: joinTypeSchema,
    on: exprSchema.nullable(),
    using: strings,
    strategy: z.enum(['broadcast', 'shuffle']).optional(),
  }),
  sort: z.object({ kind: z.literal('sort'), get input() { return plan; }, orders: z.array(sortOrder) }),
  limit: z.object({
    kind: z.literal('limit'),
    get input() { return plan; },
    limit: z.number().int().nonnegative().nullable(),
    offset: z.number().int().nonnegative(),
  }),
  distinct: z.object({ kind: z.literal('distinct'), get input() { return plan; } }),
  union: z.object({ kind: z.literal('union'), get inputs() { return z.array(plan).min(1); }, byName: z.boolean() }),
  alias: z.object({ kind: z.literal('alias'), get input() { return plan; }, alias: z.string() }),
  window: z.object({ kind: z.literal('window'), get input() { return plan; }, functions: z.array(exprSchema).min(1) }),
  apply_model: z.object({
    kind: z.literal('apply_model'),
    get input() { return plan; },
    model: modelRefSchema,
    inputs: z.array(exprSchema),
    outputs: z.array(z.object({ name: z.string(), as: z.string(), type: dataTypeSchema, nullable: z.boolean() })),
  }),
  repartition: z.object({
    kind: z.literal('repartition'),
    get input() { return plan; },
    numPartitions: z.number().int().positive(),
    keys: z.array(exprSchema),
  }),
};

const plan: z.ZodType<LogicalPlan> = z.lazy(() => {
  const [first, ...rest] = Object.values(planShapes) as [z.ZodObject, ...z.ZodObject[]];
  return z.discriminatedUnion('kind', [first, ...rest]) as unknown as z.ZodType<LogicalPlan>;
});

const serialized = z.object({ version: z.literal(PLAN_VERSION), plan });

export function serializePlan(p: LogicalPlan): string {
  const out: SerializedPlan = { version: PLAN_VERSION, plan: p };
  return JSON.stringify(out);
}

function deepFreeze<T>(v: T): T {
  if (v && typeof v === 'object' && !Object.isFrozen(v)) {
    for (const k of Object.keys(v)) deepFreeze((v as Record<string, unknown>)[k]);
    Object.freeze(v);
  }
  return v;
}

/**
 * Parses and validates a serialized plan (text or parsed JSON), then analyzes it, so a plan that names a
 * missing column is rejected here too. Errors name the field path: `plan.input.exprs[2].op: ...`.
 */
export function deserializePlan(input: string | unknown): LogicalPlan {
  const raw = parseJsonText(input, 'plan');
  const version = (raw as { version?: unknown } | null)?.version;
  if (version !== PLAN_VERSION) {
    throw new AnalysisError(`unsupported plan version ${JSON.stringify(version)}; this build reads version ${PLAN_VERSION}`);
  }
  const data = validate<z.infer<typeof serialized>>(serialized, raw, 'plan');
  const p = deepFreeze(data.plan);
  planSchema(p);
  return p;
}
