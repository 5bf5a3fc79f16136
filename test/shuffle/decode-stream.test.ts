// Decoded shuffle streams follow the batch contract and can be joined side by side: every IPC stream numbers its
// dictionaries from 0, so two decoded dictionary columns must not share an id in one schema.
import * as arrow from 'apache-arrow';
import { describe, expect, it } from 'vitest';
import { makeBatch, stringValues } from '../../core/arrow/column.ts';
import { decodeStream } from '../../core/shuffle/shuffle-reader.ts';

function dictionaryStream(name: string, values: string[]): Uint8Array {
  // Writers number dictionaries from 0 in every stream, as the shuffle writer's IPC does.
  const vector = arrow.vectorFromArray(values, new arrow.Dictionary(new arrow.Utf8(), new arrow.Int32(), 0));
  const schema = new arrow.Schema([new arrow.Field(name, vector.type, true)]);
  return arrow.tableToIPC(new arrow.Table(schema, [makeBatch(schema, [vector.data[0]!], values.length)]), 'stream');
}

describe('decodeStream', () => {
  it('gives dictionary columns of different streams different ids', () => {
    const [a] = decodeStream(dictionaryStream('x', ['a', 'b', 'a']));
    const [b] = decodeStream(dictionaryStream('y', ['p', 'q', 'q']));
    const ta = a!.schema.fields[0]!.type as arrow.Dictionary;
    const tb = b!.schema.fields[0]!.type as arrow.Dictionary;
    expect(ta.id).not.toBe(tb.id);
    const side = new arrow.Schema([...a!.schema.fields, ...b!.schema.fields]);
    const joined = makeBatch(side, [a!.data.children[0]!, b!.data.children[0]!], 3);
    expect(stringValues(joined.data.children[0]!)).toEqual(['a', 'b', 'a']);
    expect(stringValues(joined.data.children[1]!)).toEqual(['p', 'q', 'q']);
  });
});
