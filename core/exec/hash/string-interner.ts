// Maps UTF-8 strings to dense ids by their bytes, so string keys become one 32-bit word. Plain Utf8 columns are
// hashed from their byte buffers without decoding; a dictionary column is interned once per dictionary and its
// rows then map through the codes.
import * as arrow from 'apache-arrow';
import { type ColumnData, concatData } from '../../arrow/column.ts';
import { mix32 } from './group-table.ts';

const EMPTY = -1;

function hashBytes(bytes: Uint8Array, start: number, end: number): number {
  let h = 0x811c9dc5 ^ (end - start);
  let i = start;
  // Four bytes at a time, then the tail.
  for (; i + 4 <= end; i += 4) {
    const w = bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24);
    h = Math.imul(h ^ w, 0x01000193);
    h = (h << 15) | (h >>> 17);
  }
  for (; i < end; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193);
  return mix32(h);
}

export class StringInterner {
  /** Bytes of all interned strings; string `id` is arena[offsets[id] .. offsets[id+1]). */
  arena = new Uint8Array(1 << 16);
  offsets = new Int32Array(1025);
  size = 0;
  private hashes = new Int32Array(1024);
  private slots = new Int32Array(2048).fill(EMPTY);
  private mask = 2047;
  private readonly dictIds = new WeakMap<object, Int32Array>();
  /** Found-only lookups of a dictionary, valid while no string has been added since (`size` unchanged). */
  private readonly dictFound = new WeakMap<object, { size: number; ids: Int32Array }>();

  /**
   * Ids of the rows of a utf8 column (plain or dictionary) into `out`; null rows get an arbitrary value. With
   * `insert` false, strings not interned yet get -1.
   */
  idsOf(data: ColumnData, n: number, out: Int32Array, insert: boolean): void {
    if (data.type.typeId === arrow.Type.Dictionary) {
      const ids = this.dictionaryIds(data, insert);
      const codes = data.values as Int32Array;
      for (let i = 0; i < n; i++) out[i] = ids[codes[i]!] ?? -1;
      return;
    }
    this.plainIds(data, n, out, insert);
  }

  private dictionaryIds(data: ColumnData, insert: boolean): Int32Array {
    const dict = data.dictionary!;
    const known = this.dictIds.get(dict);
    if (known) return known;
    const found = this.dictFound.get(dict);
    if (!insert && found && found.size === this.size) return found.ids;
    const d = dict.data.length === 1 ? dict.data[0]! : concatData(dict.data);
    const ids = new Int32Array(d.length);
    this.plainIds(d, d.length, ids, insert);
    if (insert) this.dictIds.set(dict, ids);
    else this.dictFound.set(dict, { size: this.size, ids });
    return ids;
  }

  private plainIds(data: ColumnData, n: number, out: Int32Array, insert: boolean): void {
    const offsets = data.valueOffsets as Int32Array;
    const bytes = data.values as Uint8Array;
    for (let i = 0; i < n; i++) {
      const start = offsets[i]!;
      const end = offsets[i + 1]!;
      const h = hashBytes(bytes, start, end);
      let s = h & this.mask;
      let id = EMPTY;
      for (;;) {
        const g = this.slots[s]!;
        if (g === EMPTY) break;
        if (this.hashes[g] === h && this.equals(g, bytes, start, end)) {
          id = g;
          break;
        }
        s = (s + 1) & this.mask;
      }
      if (id === EMPTY && insert) id = this.add(bytes, start, end, h, s);
      out[i] = id;
    }
  }

  private equals(id: number, bytes: Uint8Array, start: number, end: number): boolean {
    const a = this.offsets[id]!;
    const len = this.offsets[id + 1]! - a;
    if (len !== end - start) return false;
    const arena = this.arena;
    for (let j = 0; j < len; j++) if (arena[a + j] !== bytes[start + j]) return false;
    return true;
  }

  private add(bytes: Uint8Array, start: number, end: number, h: number, slot: number): number {
    const id = this.size++;
    // offsets has one entry more than there are strings, hashes one per string: each grows on its own bound
    // (growing both on the offsets bound left hashes one short, and typed arrays drop writes past their end).
    if (this.size + 1 > this.offsets.length) {
      const offsets = new Int32Array(this.offsets.length * 2);
      offsets.set(this.offsets);
      this.offsets = offsets;
    }
    if (id >= this.hashes.length) {
      const hashes = new Int32Array(this.hashes.length * 2);
      hashes.set(this.hashes);
      this.hashes = hashes;
    }
    const at = this.offsets[id]!;
    const len = end - start;
    if (at + len > this.arena.length) {
      const arena = new Uint8Array(Math.max(this.arena.length * 2, at + len));
      arena.set(this.arena.subarray(0, at));
      this.arena = arena;
    }
    this.arena.set(bytes.subarray(start, end), at);
    this.offsets[id + 1] = at + len;
    this.hashes[id] = h;
    this.slots[slot] = id;
    if (this.size * 2 > this.slots.length) this.grow();
    return id;
  }

  private grow(): void {
    const cap = this.slots.length * 2;
    const slots = new Int32Array(cap).fill(EMPTY);
    const mask = cap - 1;
    for (let id = 0; id < this.size; id++) {
      let s = this.hashes[id]! & mask;
      while (slots[s] !== EMPTY) s = (s + 1) & mask;
      slots[s] = id;
    }
    this.slots = slots;
    this.mask = mask;
  }

  /** A plain Utf8 column of the strings `ids[start..end)`; `valid` (0/1 per row) or null for no nulls. */
  toData(ids: ArrayLike<number>, start: number, end: number, validity: Uint8Array | null): ColumnData {
    const n = end - start;
    const outOffsets = new Int32Array(n + 1);
    let total = 0;
    for (let j = 0; j < n; j++) {
      const id = ids[start + j]!;
      if (id >= 0 && (validity === null || (validity[j >> 3]! >> (j & 7)) & 1)) total += this.offsets[id + 1]! - this.offsets[id]!;
      outOffsets[j + 1] = total;
    }
    const bytes = new Uint8Array(total);
    for (let j = 0; j < n; j++) {
      const len = outOffsets[j + 1]! - outOffsets[j]!;
      if (len > 0) {
        const a = this.offsets[ids[start + j]!]!;
        bytes.set(this.arena.subarray(a, a + len), outOffsets[j]!);
      }
    }
    let nullCount = 0;
    if (validity) for (let j = 0; j < n; j++) if (((validity[j >> 3]! >> (j & 7)) & 1) === 0) nullCount++;
    return arrow.makeData({
      type: new arrow.Utf8(),
      length: n,
      nullCount,
      nullBitmap: nullCount > 0 ? validity! : undefined,
      valueOffsets: outOffsets,
      data: bytes,
    });
  }
}
