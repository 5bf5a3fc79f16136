// Composite keys → dense ids. Each key column becomes a fixed number of 32-bit words (strings through an
// interner, floats normalised so -0 = 0 and NaN = NaN); several columns are laid out row-major with a trailing
// word of null flags, so NULL is a key value of its own. A single column skips the null word: its null rows
// share one null group, and int32/date32/int64 columns are hashed straight from their value buffers.
import * as arrow from 'apache-arrow';
import { type ColumnData, makeColumn } from '../../arrow/column.ts';
import { type DataType, typeToString } from '../../types/data-type.ts';
import { UnsupportedError } from '../../types/errors.ts';
import { rowValidity, wordsOf } from '../batch-utils.ts';
import { GroupTable } from './group-table.ts';
import { StringInterner } from './string-interner.ts';

/** How one key column becomes words and back. */
interface KeyColumn {
  readonly width: number;
  /** The words of a column whose value buffer already is the key layout (no copy), or null. */
  direct(data: ColumnData): Int32Array | null;
  /** Writes `width` words per row at words[i*stride + at]; rows whose validity bit is clear get zeros. */
  encode(data: ColumnData, n: number, words: Int32Array, stride: number, at: number, insert: boolean): void;
  /** A column of groups [start, end) from the table's key words. */
  decode(keys: Int32Array, stride: number, at: number, start: number, end: number, validity: Uint8Array | null): ColumnData;
}

const f64 = new Float64Array(1);
const f64Words = new Int32Array(f64.buffer);

function isValid(v: Uint8Array | null, i: number): boolean {
  return v === null || ((v[i >> 3]! >> (i & 7)) & 1) === 1;
}

class Int32Key implements KeyColumn {
  readonly width = 1;
  constructor(private readonly type: DataType) {}
  direct(data: ColumnData): Int32Array | null {
    return data.values as Int32Array;
  }
  encode(data: ColumnData, n: number, words: Int32Array, stride: number, at: number): void {
    const v = data.values as Int32Array;
    const valid = rowValidity(data);
    for (let i = 0; i < n; i++) words[i * stride + at] = isValid(valid, i) ? v[i]! : 0;
  }
  decode(keys: Int32Array, stride: number, at: number, start: number, end: number, validity: Uint8Array | null): ColumnData {
    const out = new Int32Array(end - start);
    for (let g = start; g < end; g++) out[g - start] = keys[g * stride + at]!;
    return makeColumn(this.type, end - start, out, validity);
  }
}

/** int64, timestamp and decimal (Decimal64): 2 words as stored. */
class WideKey implements KeyColumn {
  readonly width = 2;
  constructor(private readonly type: DataType) {}
  direct(data: ColumnData): Int32Array | null {
    return wordsOf(data);
  }
  encode(data: ColumnData, n: number, words: Int32Array, stride: number, at: number): void {
    const v = wordsOf(data);
    const valid = rowValidity(data);
    for (let i = 0; i < n; i++) {
      const o = i * stride + at;
      if (isValid(valid, i)) {
        words[o] = v[i * 2]!;
        words[o + 1] = v[i * 2 + 1]!;
      } else {
        words[o] = 0;
        words[o + 1] = 0;
      }
    }
  }
  decode(keys: Int32Array, stride: number, at: number, start: number, end: number, validity: Uint8Array | null): ColumnData {
    const n = end - start;
    const buf = new ArrayBuffer(n * 8);
    const w = new Int32Array(buf);
    for (let g = start; g < end; g++) {
      const o = (g - start) * 2;
      w[o] = keys[g * stride + at]!;
      w[o + 1] = keys[g * stride + at + 1]!;
    }
    const values = this.type.kind === 'decimal' ? new Uint32Array(buf) : new BigInt64Array(buf);
    return makeColumn(this.type, n, values, validity);
  }
}

class Float64Key implements KeyColumn {
  readonly width = 2;
  direct(): Int32Array | null {
    return null;
  }
  encode(data: ColumnData, n: number, words: Int32Array, stride: number, at: number): void {
    const v = data.values as Float64Array;
    const valid = rowValidity(data);
    for (let i = 0; i < n; i++) {
      let x = isValid(valid, i) ? v[i]! : 0;
      if (x === 0) x = 0; // -0 groups with 0
      else if (x !== x) x = NaN; // one NaN bit pattern
      f64[0] = x;
      words[i * stride + at] = f64Words[0]!;
      words[i * stride + at + 1] = f64Words[1]!;
    }
  }
  decode(keys: Int32Array, stride: number, at: number, start: number, end: number, validity: Uint8Array | null): ColumnData {
    const n = end - start;
    const out = new Float64Array(n);
    const w = new Int32Array(out.buffer);
    for (let g = start; g < end; g++) {
      w[2 * (g - start)] = keys[g * stride + at]!;
      w[2 * (g - start) + 1] = keys[g * stride + at + 1]!;
    }
    return makeColumn({ kind: 'float64' }, n, out, validity);
  }
}

class BoolKey implements KeyColumn {
  readonly width = 1;
  direct(): Int32Array | null {
    return null;
  }
  encode(data: ColumnData, n: number, words: Int32Array, stride: number, at: number): void {
    const bits = data.values as Uint8Array;
    const valid = rowValidity(data);
    for (let i = 0; i < n; i++) words[i * stride + at] = isValid(valid, i) ? (bits[i >> 3]! >> (i & 7)) & 1 : 0;
  }
  decode(keys: Int32Array, stride: number, at: number, start: number, end: number, validity: Uint8Array | null): ColumnData {
    const n = end - start;
    const out = new Uint8Array(((n + 63) >> 6) << 3);
    for (let g = start; g < end; g++) if (keys[g * stride + at]) out[(g - start) >> 3]! |= 1 << ((g - start) & 7);
    return makeColumn({ kind: 'bool' }, n, out, validity);
  }
}

class StringKey implements KeyColumn {
  readonly width = 1;
  readonly interner = new StringInterner();
  private scratch = new Int32Array(0);
  direct(): Int32Array | null {
    return null;
  }
  encode(data: ColumnData, n: number, words: Int32Array, stride: number, at: number, insert: boolean): void {
    const valid = rowValidity(data);
    if (stride === 1 && at === 0 && valid === null) {
      this.interner.idsOf(data, n, words, insert);
      return;
    }
    if (this.scratch.length < n) this.scratch = new Int32Array(n);
    const ids = this.scratch;
    this.interner.idsOf(data, n, ids, insert);
    for (let i = 0; i < n; i++) words[i * stride + at] = isValid(valid, i) ? ids[i]! : 0;
  }
  decode(keys: Int32Array, stride: number, at: number, start: number, end: number, validity: Uint8Array | null): ColumnData {
    const ids = new Int32Array(end - start);
    for (let g = start; g < end; g++) ids[g - start] = keys[g * stride + at]!;
    return this.interner.toData(ids, 0, end - start, validity);
  }
}

/** The Null type: every row is null, so a key column of it carries no words. */
class NullKey implements KeyColumn {
  readonly width = 0;
  direct(): Int32Array | null {
    return new Int32Array(0);
  }
  encode(): void {}
  decode(_keys: Int32Array, _stride: number, _at: number, start: number, end: number): ColumnData {
    return arrow.makeData({ type: new arrow.Null(), length: end - start });
  }
}

function keyColumn(type: DataType, what: string): KeyColumn {
  switch (type.kind) {
    case 'int32':
    case 'date32':
      return new Int32Key(type);
    case 'int64':
    case 'timestamp':
    case 'decimal':
      return new WideKey(type);
    case 'float64':
      return new Float64Key();
    case 'bool':
      return new BoolKey();
    case 'utf8':
      return new StringKey();
    case 'null':
      return new NullKey();
    case 'vector':
      throw new UnsupportedError(`${what} of type ${typeToString(type)} is not supported: vectors cannot be grouped or joined on`);
  }
}

/**
 * Dense ids for composite keys, in order of first appearance. `insert` assigns ids (NULL is a key value);
 * `find` only looks up (-1 for absent keys and for rows with any NULL key, as join keys never match NULL).
 */
export class KeyIndex {
  private readonly columns: KeyColumn[];
  private readonly offsets: number[];
  /** Words per key: the columns' widths, plus words of null flags (a bit per column) when there are several. */
  private readonly stride: number;
  private readonly nullAt: number;
  private readonly table: GroupTable;
  private words = new Int32Array(0);
  private ids = new Int32Array(0);

  constructor(
    readonly types: readonly DataType[],
    what = 'key',
  ) {
    this.columns = types.map((t) => keyColumn(t, what));
    this.offsets = [];
    let w = 0;
    for (const c of this.columns) {
      this.offsets.push(w);
      w += c.width;
    }
    this.nullAt = w;
    this.stride = this.columns.length === 1 ? w : w + ((this.columns.length + 31) >> 5);
    this.table = new GroupTable(this.stride);
  }

  get size(): number {
    return this.table.size;
  }

  /** Declares that no more keys will be inserted, letting lookups use a direct array for dense integer keys. */
  freeze(): void {
    if (this.columns.length === 1 && (this.columns[0] instanceof Int32Key || this.columns[0] instanceof WideKey)) this.table.freeze();
  }

  /** Group ids of `n` rows (valid until the next call). */
  insert(cols: readonly ColumnData[], n: number): Int32Array {
    return this.lookup(cols, n, true);
  }

  /** Ids of existing keys, -1 where absent or any key is NULL (valid until the next call). */
  find(cols: readonly ColumnData[], n: number): Int32Array {
    return this.lookup(cols, n, false);
  }

  private lookup(cols: readonly ColumnData[], n: number, insert: boolean): Int32Array {
    if (this.ids.length < n) this.ids = new Int32Array(Math.max(n, 1024));
    const out = this.ids;
    if (this.columns.length === 1) {
      const col = this.columns[0]!;
      const data = cols[0]!;
      let words = col.direct(data);
      if (words === null) {
        words = this.scratch(n * col.width);
        col.encode(data, n, words, col.width, 0, insert);
      }
      const valid = rowValidity(data);
      if (insert) this.table.insert(words, n, valid, out);
      else this.table.find(words, n, valid, out);
      return out;
    }
    const stride = this.stride;
    const words = this.scratch(n * stride);
    const nullAt = this.nullAt;
    for (let i = 0; i < n; i++) for (let j = nullAt; j < stride; j++) words[i * stride + j] = 0;
    let anyNull: Uint8Array | null = null;
    this.columns.forEach((c, k) => {
      const data = cols[k]!;
      c.encode(data, n, words, stride, this.offsets[k]!, insert);
      const valid = rowValidity(data);
      if (valid === null) return;
      if (insert) {
        const at = nullAt + (k >> 5);
        const flag = 1 << (k & 31);
        for (let i = 0; i < n; i++) if (((valid[i >> 3]! >> (i & 7)) & 1) === 0) words[i * stride + at]! |= flag;
      } else {
        // Lookups treat a row with any NULL key as absent: clear its validity bit.
        if (anyNull === null) anyNull = new Uint8Array(((n + 63) >> 6) << 3).fill(0xff);
        for (let i = 0; i < valid.length && i < anyNull.length; i++) anyNull[i]! &= valid[i]!;
      }
    });
    if (insert) this.table.insert(words, n, null, out);
    else this.table.find(words, n, anyNull, out);
    return out;
  }

  private scratch(len: number): Int32Array {
    if (this.words.length < len) this.words = new Int32Array(Math.max(len, 1024));
    return this.words;
  }

  /** Key columns for groups [start, end). */
  decode(start: number, end: number): ColumnData[] {
    const keys = this.table.keys;
    const n = end - start;
    const nullGroup = this.table.nullGroup;
    return this.columns.map((c, k) => {
      let validity: Uint8Array | null = null;
      const single = this.columns.length === 1;
      if (c instanceof NullKey) return c.decode(keys, this.stride, 0, start, end);
      if (single ? nullGroup >= start && nullGroup < end : true) {
        const v = new Uint8Array(((n + 63) >> 6) << 3);
        let any = false;
        for (let g = start; g < end; g++) {
          const isNull = single ? g === nullGroup : (keys[g * this.stride + this.nullAt + (k >> 5)]! & (1 << (k & 31))) !== 0;
          if (isNull) any = true;
          else v[(g - start) >> 3]! |= 1 << ((g - start) & 7);
        }
        if (any) validity = v;
      }
      return c.decode(keys, this.stride, this.offsets[k]!, start, end, validity);
    });
  }
}
