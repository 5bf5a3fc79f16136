// TypeScript UDFs (session.udf.register) and models as SQL functions (session.udf.registerModel) and as a
// DataFrame step (df.applyModel), in the three in-process planning modes.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Session, col } from '../../core/sdk/index.ts';
import { ScaleModel, TEST_MODELS_MODULE } from '../runtime/support/test-models.ts';

const MODES = ['local', 'distributed', 'stages'] as const;

function tmp(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'squall-udf-'));
}

async function writeTable(session: Session, rows: Record<string, unknown>[], schema: Record<string, string>): Promise<string> {
  const dir = path.join(tmp(), 't.parquet');
  await session.createDataFrame(rows, schema).write.parquet(dir);
  return dir;
}

const ROWS = Array.from({ length: 50 }, (_, i) => ({ id: i, x: i % 7 === 3 ? null : i * 1.5, name: i % 5 === 0 ? null : `n${i}` }));
const SCHEMA = { id: 'int', x: 'double', name: 'string' };

describe.each(MODES)('UDFs (%s planning)', (planning) => {
  it('runs in SQL and in the DataFrame API, per row, with NULLs passed as null', async () => {
    const session = Session.local({ planning });
    const df = await session.read.parquet(await writeTable(session, ROWS, SCHEMA));
    df.createOrReplaceTempView('t');
    const plus = session.udf.register('plus_tax', (x: number | null, rate: number) => (x === null ? null : x * (1 + rate)), 'double', 0.25);
    const label = session.udf.register('label', (id: number, name: string | null) => `${id}:${name ?? '?'}`, 'string');
    const fromSql = await session.sql('SELECT id, plus_tax(x) AS taxed, label(id, name) AS l FROM t WHERE plus_tax(x) > 10 ORDER BY id').collect();
    const expected = ROWS.filter((r) => r.x !== null && r.x * 1.25 > 10).map((r) => ({ id: r.id, taxed: r.x! * 1.25, l: `${r.id}:${r.name ?? '?'}` }));
    expect(fromSql).toEqual(expected);
    const fromDf = await df.filter(plus(col('x')).gt(10)).select(col('id'), plus(col('x')).alias('taxed'), label('id', 'name').alias('l')).orderBy('id').collect();
    expect(fromDf).toEqual(expected);
    // NULL in, NULL out is the function's own choice: it sees null.
    const nulls = await session.sql('SELECT id, plus_tax(x) AS t FROM t WHERE x IS NULL ORDER BY id').collect();
    expect(nulls.length).toBeGreaterThan(0);
    expect(nulls.every((r) => r['t'] === null)).toBe(true);
    // In an aggregation's input too (not fused into a kernel).
    const [agg] = await session.sql('SELECT sum(plus_tax(x)) AS s FROM t').collect();
    expect(agg!['s']).toBeCloseTo(ROWS.reduce((s, r) => s + (r.x === null ? 0 : r.x * 1.25), 0), 9);
  });

  it("fails the action with the user's message and the function's line", async () => {
    const session = Session.local({ planning });
    const df = await session.read.parquet(await writeTable(session, ROWS, SCHEMA));
    df.createOrReplaceTempView('t');
    session.udf.register(
      'picky',
      (id: number) => {
        if (id === 13) throw new RangeError(`unlucky ${id}`);
        return id;
      },
      'int',
    );
    await expect(session.sql('SELECT picky(id) FROM t').collect()).rejects.toThrow(/user function picky\(\) threw: RangeError: unlucky 13 \(line 2 of the function: if \(id === 13\) throw/);
  });
});

describe('UDF registration', () => {
  it('rejects captured variables with the documented message, built-in names, and bad return values', async () => {
    const session = Session.local();
    const factor = 3;
    expect(() => session.udf.register('times', (x: number) => x * factor, 'double')).toThrow(
      /the function passed to times\(\) uses the variable 'factor' from the surrounding scope, which executors cannot see/,
    );
    expect(() => session.udf.register('upper', (x: string) => x, 'string')).toThrow(/'upper': it is a built-in SQL function/);
    session.udf.register('bad', (x: number) => `not a number ${x}`, 'int');
    session.createDataFrame([{ a: 1 }]).createOrReplaceTempView('one');
    await expect(session.sql('SELECT bad(a) FROM one').collect()).rejects.toThrow(/user function bad\(\) returned a value that is not its declared type/);
    expect(() => session.sql('SELECT nope(a) FROM one')).toThrow(/function nope\(\) is not supported/);
  });

  it('keeps the source in the plan: a serialized plan with a UDF runs in another session', async () => {
    const { serializePlan, deserializePlan } = await import('../../core/plan/serialize.ts');
    const a = Session.local();
    const file = await writeTable(a, ROWS, SCHEMA);
    const double = a.udf.register('double_it', (x: number | null) => (x === null ? null : 2 * x), 'double');
    const df = (await a.read.parquet(file)).select(col('id'), double(col('x')).alias('d'));
    const json = serializePlan(df.plan);
    expect(json).toContain('double_it');
    const b = Session.local({ planning: 'stages' });
    const { DataFrame } = await import('../../core/sdk/dataframe.ts');
    const rows = await new DataFrame(b, deserializePlan(json)).orderBy('id').collect();
    expect(rows).toEqual(ROWS.map((r) => ({ id: r.id, d: r.x === null ? null : 2 * r.x })));
  });
});

describe.each(MODES)('models (%s planning)', (planning) => {
  it('registerModel: SELECT id, scale(x) FROM t, and a WHERE over the model output', async () => {
    const session = Session.local({ planning, inference: { partitions: 3 } });
    const df = await session.read.parquet(await writeTable(session, ROWS, SCHEMA));
    df.createOrReplaceTempView('t');
    await session.udf.registerModel('scale', new ScaleModel({ inputCol: 'v', factor: 10 }));
    const rows = await session.sql('SELECT id, scale(x) AS s FROM t ORDER BY id').collect();
    expect(rows).toEqual(ROWS.map((r) => ({ id: r.id, s: r.x === null ? null : r.x * 10 })));
    const big = await session.sql('SELECT id FROM t WHERE scale(x + 1) > 500 ORDER BY id').collect();
    expect(big).toEqual(ROWS.filter((r) => r.x !== null && (r.x + 1) * 10 > 500).map((r) => ({ id: r.id })));
    const text = await session.sql('SELECT id, scale(x) AS s FROM t').explainString('extended');
    expect(text).toMatch(/ApplyModel TestScaleModel \(lambda, device=auto\)/);
    if (planning !== 'local') expect(text).toMatch(/Stage \d+ \(lambda, 3 tasks\)/);
  });

  it('df.applyModel is lazy and equals transform(df); a GPU job puts the model in its own container-gpu stage', async () => {
    const session = Session.local({ planning });
    const df = await session.read.parquet(await writeTable(session, ROWS, SCHEMA));
    const model = new ScaleModel({ inputCol: 'x', outputCol: 'y', factor: 3 });
    const applied = await df.applyModel(model);
    expect(applied.plan.kind).toBe('apply_model');
    expect(applied.columns).toEqual(['id', 'x', 'name', 'y']);
    const eager = await model.transform(df);
    expect(await applied.orderBy('id').collect()).toEqual(await eager.orderBy('id').collect());
    const gpu = Session.local({ planning, inference: { gpu: true, partitions: 2 } });
    const onGpu = await (await gpu.read.parquet(await writeTable(gpu, ROWS, SCHEMA))).applyModel(model);
    const stages = await onGpu.explainStages();
    // CPU scan stage → inference stage on GPU containers → CPU result stage.
    expect(stages).toMatch(/Stage 0 \(lambda[^\n]*round_robin\(2\)/);
    expect(stages).toMatch(/Stage 1 \(container-gpu, 2 tasks\)[^\n]*round_robin\(2\) reads \[0\]\n\s+ApplyModel TestScaleModel/);
    expect(stages).toMatch(/Stage 2 \(lambda, 2 tasks\) → result reads \[1\]/);
    expect(await onGpu.orderBy('id').collect()).toEqual(await eager.orderBy('id').collect());
  });

  it('halves the batch on out-of-memory and writes rows that fail to the dead-letter table', async () => {
    const session = Session.local({ planning });
    const df = await session.read.parquet(await writeTable(session, ROWS, SCHEMA));
    const deadLetter = path.join(tmp(), 'dead');
    const model = new ScaleModel({ inputCol: 'id', outputCol: 'y', factor: 2, failOn: 21, oomAbove: 16 });
    ScaleModel.calls.length = 0;
    const out = await (await df.applyModel(model, { deadLetter, modules: [TEST_MODELS_MODULE] })).orderBy('id').collect();
    expect(out.map((r) => r['id'])).toEqual(ROWS.map((r) => r.id).filter((id) => id !== 21));
    expect(out.every((r) => r['y'] === 2 * (r['id'] as number))).toBe(true);
    expect(Math.max(...ScaleModel.calls.filter((n) => n <= 16))).toBeLessThanOrEqual(16);
    const dead = await (await session.read.parquet(deadLetter)).collect();
    expect(dead).toEqual([{ id: 21, x: 31.5, name: 'n21', _error: 'cannot score value 21' }]);
  });
});

describe('model loading errors', () => {
  it('names the missing module when a worker does not know a user-defined stage class', async () => {
    const { clearModelCache, processModelHost } = await import('../../core/exec/apply-model.ts');
    const { ApplyModelExec } = await import('../../core/exec/apply-model.ts');
    const { MemoryScanExec } = await import('../../core/exec/memory-scan.ts');
    const dir = path.join(tmp(), 'scale');
    await new ScaleModel({ inputCol: 'x' }).save(dir);
    // Rewrite the saved class name to one no module registers.
    const meta = path.join(dir, 'metadata.json');
    fs.writeFileSync(meta, fs.readFileSync(meta, 'utf8').replace('"TestScaleModel"', '"ElsewhereModel"'));
    clearModelCache();
    const session = Session.local();
    const input = await session.read.parquet(await writeTable(session, ROWS, SCHEMA));
    const op = new ApplyModelExec(new MemoryScanExec(input.schema, []), { uri: dir, className: 'ElsewhereModel', bytes: 0, device: 'auto' }, [], [], processModelHost());
    await expect((async () => {
      for await (const _ of op.execute({ batchSize: 1024 })) void _;
    })()).rejects.toThrow(/unknown stage 'ElsewhereModel'.*pass \{ modules: \['\/path\/to\/its\/module\.ts'\] \}/s);
  });
});

describe('functions.udf', () => {
  it('builds a Column from a function without registering it, named after the function', async () => {
    const { functions: F } = await import('../../core/sdk/index.ts');
    const session = Session.local({ planning: 'stages' });
    const df = await session.read.parquet(await writeTable(session, ROWS, SCHEMA));
    const initials = (name: string | null, sep: string) => (name === null ? null : name.split('').join(sep));
    const spaced = F.udf(initials, 'string', '.');
    expect(spaced.functionName).toBe('initials');
    const rows = await df.select(col('id'), spaced(col('name')).alias('s')).orderBy('id').limit(3).collect();
    expect(rows).toEqual([{ id: 0, s: null }, { id: 1, s: 'n.1' }, { id: 2, s: 'n.2' }]);
    const limit = 3;
    expect(() => F.udf((x: number) => x > limit, 'boolean')).toThrow(/uses the variable 'limit' from the surrounding scope/);
  });
});
