import { describe, expect, it } from 'vitest';
import { KeyIndex } from '../../core/exec/hash/key-index.ts';
import { type DataType, DataTypes } from '../../core/types/data-type.ts';
import { makeData, type Value } from './support.ts';

const ids = (a: Int32Array, n: number) => Array.from(a.subarray(0, n));

describe('KeyIndex', () => {
  const cases: [DataType, Value[], Value[]][] = [
    [DataTypes.int32, [5, -3, 5, 9, null, 2147483647], [9, -3, 4, null, 2147483647, -2147483648, 5]],
    [DataTypes.int64, [2 ** 40, -(2 ** 40) + 1, 7, 7, null], [7, 2 ** 40, 2 ** 41, -(2 ** 40) + 1, null, -(2 ** 52)]],
    [DataTypes.int64, [-5, 0, 3, 3, 10], [-5, 10, 11, -6, 2 ** 45, 3, -(2 ** 45)]],
    [DataTypes.decimal(12, 2), [-125, 300, 300, 0], [300, -125, 1, 0, -300]],
  ];
  for (const [type, build, probe] of cases) {
    it(`finds ${type.kind} keys the same before and after freezing (dense lookups), never matching NULL`, () => {
      const spec = { name: 'k', type };
      const idx = new KeyIndex([type]);
      const gids = ids(idx.insert([makeData(spec, build)], build.length), build.length);
      // Equal keys share an id, NULL gets its own, ids are dense in order of first appearance.
      const firstSeen = new Map<Value, number>();
      build.forEach((v, i) => {
        if (!firstSeen.has(v)) firstSeen.set(v, gids[i]!);
        expect(gids[i]).toBe(firstSeen.get(v));
      });
      expect(idx.size).toBe(firstSeen.size);
      const expected = probe.map((v) => (v === null ? -1 : (firstSeen.get(v) ?? -1)));
      const probeData = makeData(spec, probe);
      expect(ids(idx.find([probeData], probe.length), probe.length)).toEqual(expected);
      idx.freeze();
      expect(ids(idx.find([probeData], probe.length), probe.length)).toEqual(expected);
    });
  }

  it('keys several columns with NULL as a value when grouping, and as no match when looking up', () => {
    const a = { name: 'a', type: DataTypes.int32 };
    const s = { name: 's', type: DataTypes.utf8 };
    const av: Value[] = [1, 1, null, 1, null, 2];
    const sv: Value[] = ['x', 'x', 'x', null, 'x', 'y'];
    const idx = new KeyIndex([DataTypes.int32, DataTypes.utf8]);
    expect(ids(idx.insert([makeData(a, av), makeData(s, sv)], 6), 6)).toEqual([0, 0, 1, 2, 1, 3]);
    const found = idx.find([makeData(a, [1, null, 2, 2]), makeData({ ...s, dictionary: true }, ['x', 'x', 'y', 'zz'])], 4);
    expect(ids(found, 4)).toEqual([0, -1, 3, -1]);
  });
});
