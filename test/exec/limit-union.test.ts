import type * as arrow from 'apache-arrow';
import { describe, expect, it } from 'vitest';
import { collectBatches } from '../../core/exec/collect.ts';
import { LimitExec } from '../../core/exec/limit.ts';
import { MemoryScanExec } from '../../core/exec/memory-scan.ts';
import type { ExecContext, PhysicalOperator } from '../../core/exec/operator.ts';
import { UnionExec } from '../../core/exec/union.ts';
import { DataTypes } from '../../core/types/data-type.ts';
import { ExecutionError } from '../../core/types/errors.ts';
import { field, schema } from '../../core/types/schema.ts';
import { type ColSpec, type Value, makeBatches, run, scan } from './support.ts';

const cols: ColSpec[] = [
  { name: 'i', type: DataTypes.int32 },
  { name: 's', type: DataTypes.utf8, dictionary: true },
];
const rows: Value[][] = Array.from({ length: 95 }, (_, i) => [i, i % 3 === 0 ? null : `v${i}`]);

/** A scan that counts how many batches were pulled from it. */
class CountingScan implements PhysicalOperator {
  readonly name = 'CountingScan';
  readonly children = [];
  pulled = 0;
  constructor(private readonly inner: MemoryScanExec) {}
  get schema() {
    return this.inner.schema;
  }
  describe(): string {
    return '';
  }
  async *execute(ctx: ExecContext): AsyncIterable<arrow.RecordBatch> {
    for await (const b of this.inner.execute(ctx)) {
      this.pulled++;
      yield b;
    }
  }
}

describe('LimitExec', () => {
  it('returns rows [offset, offset + limit) across batch boundaries', async () => {
    const all = await run(scan(cols, rows, 10));
    for (const [limit, offset] of [
      [0, 0],
      [5, 0],
      [10, 0],
      [15, 7],
      [100, 90],
      [3, 200],
      [null, 42],
      [null, 0],
    ] as const) {
      const got = await run(new LimitExec(scan(cols, rows, 10), limit, offset));
      expect(got).toEqual(all.slice(offset, limit === null ? undefined : offset + limit));
    }
  });

  it('stops pulling its input once it has enough rows', async () => {
    const src = new CountingScan(scan(cols, rows, 10));
    await collectBatches(new LimitExec(src, 12, 5));
    expect(src.pulled).toBe(2);
    const none = new CountingScan(scan(cols, rows, 10));
    await collectBatches(new LimitExec(none, 0, 0));
    expect(none.pulled).toBe(0);
  });

  it('rejects negative limits and offsets', () => {
    expect(() => new LimitExec(scan(cols, rows), -1, 0)).toThrow(ExecutionError);
    expect(() => new LimitExec(scan(cols, rows), 1, -2)).toThrow(ExecutionError);
  });
});

describe('UnionExec', () => {
  it('yields every input in order, takes names from the first input and nullability from any', async () => {
    const a = new MemoryScanExec(schema([field('x', DataTypes.int32, false), field('s', DataTypes.utf8, false)]), makeBatches(cols, rows.slice(0, 20), 8));
    const b = new MemoryScanExec(schema([field('y', DataTypes.int32, true), field('t', DataTypes.utf8, false)]), makeBatches(cols, rows.slice(20), 8));
    const empty = new MemoryScanExec(schema([field('z', DataTypes.int32, false), field('u', DataTypes.utf8, false)]), []);
    const u = new UnionExec([a, empty, b]);
    expect(u.schema.fields.map((f) => [f.name, f.nullable])).toEqual([
      ['x', true],
      ['s', false],
    ]);
    expect(await run(u)).toEqual(await run(scan(cols, rows)));
    const batches = await collectBatches(u);
    expect(batches[0]!.schema.fields.map((f) => f.name)).toEqual(['x', 's']);
  });

  it('rejects inputs whose types differ', () => {
    const a = new MemoryScanExec(schema([field('x', DataTypes.int32)]), []);
    const b = new MemoryScanExec(schema([field('x', DataTypes.int64)]), []);
    expect(() => new UnionExec([a, b])).toThrow(ExecutionError);
  });
});

describe('MemoryScanExec', () => {
  it('yields its batches and stops on an aborted signal', async () => {
    const batches = makeBatches(cols, rows, 30);
    const op = new MemoryScanExec(schema(cols.map((c) => field(c.name, c.type))), batches);
    expect(await collectBatches(op)).toEqual(batches);
    const ac = new AbortController();
    ac.abort(new Error('stop'));
    await expect(collectBatches(op, { batchSize: 10, signal: ac.signal })).rejects.toThrow('stop');
  });
});
