// An open-addressing hash table (linear probing) from fixed-width keys (W 32-bit words per key) to dense group
// ids, assigned in order of first appearance. Each slot holds the group id next to the key itself (W ≤ 2) or
// its hash (W > 2), so a probe touches one cache line; keys are also kept row-major per group for output.

const EMPTY = -1;

export function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h;
}

function hashAt(words: Int32Array, at: number, w: number): number {
  if (w === 1) return mix32(words[at]!);
  if (w === 2) return mix32(words[at]! ^ mix32(words[at + 1]! + 0x9e3779b9));
  let h = 0x9e3779b9 ^ w;
  for (let j = 0; j < w; j++) {
    h = Math.imul(h ^ words[at + j]!, 0x01000193);
    h = (h << 13) | (h >>> 19);
  }
  return mix32(h);
}

export class GroupTable {
  /** Keys of the groups, row-major: group g occupies keys[g*W .. g*W+W). */
  keys: Int32Array;
  /** Number of groups. */
  size = 0;
  /** Group id of rows whose validity bit is clear (single-column keys), or -1 while there is none. */
  nullGroup = -1;
  private hashes: Int32Array;
  /** Slot p is slots[p*E .. p*E+E): group id, then the key words (W ≤ 2) or the hash (W > 2). */
  private slots: Int32Array;
  private mask: number;
  /** Int32s per slot. */
  private readonly entry: number;

  constructor(
    readonly width: number,
    initialGroups = 1024,
  ) {
    let cap = 16;
    while (cap < initialGroups * 2) cap <<= 1;
    this.entry = width <= 2 ? 1 + width : 2;
    this.slots = new Int32Array(cap * this.entry).fill(EMPTY);
    this.mask = cap - 1;
    this.keys = new Int32Array(Math.max(1, initialGroups) * Math.max(1, width));
    this.hashes = new Int32Array(Math.max(1, initialGroups));
  }

  /**
   * Group ids for `n` keys, `words` row-major with `width` words per row; rows whose bit in `validity` is clear
   * all go to one null group. New keys get new ids.
   */
  insert(words: Int32Array, n: number, validity: Uint8Array | null, out: Int32Array): void {
    const w = this.width;
    if (w === 1) {
      this.insert1(words, n, validity, out);
      return;
    }
    for (let i = 0; i < n; i++) {
      if (validity !== null && ((validity[i >> 3]! >> (i & 7)) & 1) === 0) {
        if (this.nullGroup < 0) this.nullGroup = this.addNull();
        out[i] = this.nullGroup;
        continue;
      }
      out[i] = this.insertOne(words, i * w);
    }
  }

  /** The single-word loop: the common case of an int key, a string id or a date. */
  private insert1(words: Int32Array, n: number, validity: Uint8Array | null, out: Int32Array): void {
    let slots = this.slots;
    let mask = this.mask;
    for (let i = 0; i < n; i++) {
      if (validity !== null && ((validity[i >> 3]! >> (i & 7)) & 1) === 0) {
        if (this.nullGroup < 0) this.nullGroup = this.addNull();
        out[i] = this.nullGroup;
        continue;
      }
      const k = words[i]!;
      let p = mix32(k) & mask;
      for (;;) {
        const g = slots[p << 1]!;
        if (g === EMPTY) {
          out[i] = this.add(words, i, mix32(k), p);
          slots = this.slots;
          mask = this.mask;
          break;
        }
        if (slots[(p << 1) + 1] === k) {
          out[i] = g;
          break;
        }
        p = (p + 1) & mask;
      }
    }
  }

  private insertOne(words: Int32Array, at: number): number {
    const w = this.width;
    const e = this.entry;
    const h = hashAt(words, at, w);
    let p = h & this.mask;
    for (;;) {
      const s = p * e;
      const g = this.slots[s]!;
      if (g === EMPTY) return this.add(words, at, h, p);
      if (this.slotMatches(s, g, words, at, h)) return g;
      p = (p + 1) & this.mask;
    }
  }

  private slotMatches(s: number, g: number, words: Int32Array, at: number, h: number): boolean {
    const w = this.width;
    const slots = this.slots;
    if (w === 1) return slots[s + 1] === words[at];
    if (w === 2) return slots[s + 1] === words[at] && slots[s + 2] === words[at + 1];
    if (slots[s + 1] !== h) return false;
    const base = g * w;
    const keys = this.keys;
    for (let j = 0; j < w; j++) if (keys[base + j] !== words[at + j]) return false;
    return true;
  }

  /** Direct map (key value - denseMin) → group id, when the keys are integers in a small range. */
  private dense: Int32Array | null = null;
  private denseMin = 0;

  /**
   * Once no more keys will be inserted (a join's build side): when every key is an integer (one word, or two
   * words read as an int64 within ±2^52) and their range is at most 4× the number of groups, lookups switch
   * to a direct array indexed by key value, which needs neither hashing nor probing.
   */
  freeze(): void {
    const w = this.width;
    if ((w !== 1 && w !== 2) || this.size === 0) return;
    const keys = this.keys;
    let min = Infinity;
    let max = -Infinity;
    for (let g = 0; g < this.size; g++) {
      if (g === this.nullGroup) continue;
      let v: number;
      if (w === 1) v = keys[g]!;
      else {
        const hi = keys[2 * g + 1]!;
        if (hi > 0xfffff || hi < -0x100000) return;
        v = hi * 4294967296 + (keys[2 * g]! >>> 0);
      }
      if (v < min) min = v;
      if (v > max) max = v;
    }
    if (min === Infinity) return;
    const range = max - min + 1;
    if (range > Math.max(1024, 4 * this.size) || range > 1 << 26) return;
    const dense = new Int32Array(range).fill(EMPTY);
    for (let g = 0; g < this.size; g++) {
      if (g === this.nullGroup) continue;
      const v = w === 1 ? keys[g]! : keys[2 * g + 1]! * 4294967296 + (keys[2 * g]! >>> 0);
      dense[v - min] = g;
    }
    this.dense = dense;
    this.denseMin = min;
  }

  private findDense(dense: Int32Array, words: Int32Array, n: number, validity: Uint8Array | null, out: Int32Array): void {
    const min = this.denseMin;
    const len = dense.length;
    const two = this.width === 2;
    for (let i = 0; i < n; i++) {
      let r = EMPTY;
      if (validity === null || ((validity[i >> 3]! >> (i & 7)) & 1) === 1) {
        let o: number;
        if (two) {
          const hi = words[2 * i + 1]!;
          o = hi > 0xfffff || hi < -0x100000 ? -1 : hi * 4294967296 + (words[2 * i]! >>> 0) - min;
        } else o = words[i]! - min;
        if (o >= 0 && o < len) r = dense[o]!;
      }
      out[i] = r;
    }
  }

  /** Group ids of existing keys, -1 where a key is absent or its validity bit is clear. */
  find(words: Int32Array, n: number, validity: Uint8Array | null, out: Int32Array): void {
    const w = this.width;
    const e = this.entry;
    const slots = this.slots;
    const mask = this.mask;
    if (this.dense !== null) {
      this.findDense(this.dense, words, n, validity, out);
      return;
    }
    if (w === 1) {
      for (let i = 0; i < n; i++) {
        let r = EMPTY;
        if (validity === null || ((validity[i >> 3]! >> (i & 7)) & 1) === 1) {
          const k = words[i]!;
          let p = mix32(k) & mask;
          for (;;) {
            const g = slots[p << 1]!;
            if (g === EMPTY) break;
            if (slots[(p << 1) + 1] === k) {
              r = g;
              break;
            }
            p = (p + 1) & mask;
          }
        }
        out[i] = r;
      }
      return;
    }
    for (let i = 0; i < n; i++) {
      out[i] = EMPTY;
      if (validity !== null && ((validity[i >> 3]! >> (i & 7)) & 1) === 0) continue;
      const at = i * w;
      const h = hashAt(words, at, w);
      let p = h & mask;
      for (;;) {
        const s = p * e;
        const g = slots[s]!;
        if (g === EMPTY) break;
        if (this.slotMatches(s, g, words, at, h)) {
          out[i] = g;
          break;
        }
        p = (p + 1) & mask;
      }
    }
  }

  private reserve(): number {
    const g = this.size++;
    if (this.size > this.hashes.length) {
      const cap = this.hashes.length * 2;
      const keys = new Int32Array(cap * Math.max(1, this.width));
      keys.set(this.keys);
      this.keys = keys;
      const hashes = new Int32Array(cap);
      hashes.set(this.hashes);
      this.hashes = hashes;
    }
    return g;
  }

  /** The null group: key words zero, never entered in the slot table. */
  private addNull(): number {
    return this.reserve();
  }

  private add(words: Int32Array, at: number, h: number, p: number): number {
    this.dense = null;
    const g = this.reserve();
    const w = this.width;
    for (let j = 0; j < w; j++) this.keys[g * w + j] = words[at + j]!;
    this.hashes[g] = h;
    this.place(this.slots, p, g);
    if ((this.size - (this.nullGroup >= 0 ? 1 : 0)) * 2 > this.mask + 1) this.grow();
    return g;
  }

  private place(slots: Int32Array, p: number, g: number): void {
    const e = this.entry;
    const s = p * e;
    slots[s] = g;
    const w = this.width;
    if (w <= 2) for (let j = 0; j < w; j++) slots[s + 1 + j] = this.keys[g * w + j]!;
    else slots[s + 1] = this.hashes[g]!;
  }

  private grow(): void {
    const cap = (this.mask + 1) * 2;
    const e = this.entry;
    const slots = new Int32Array(cap * e).fill(EMPTY);
    const mask = cap - 1;
    for (let g = 0; g < this.size; g++) {
      if (g === this.nullGroup) continue;
      let p = this.hashes[g]! & mask;
      while (slots[p * e] !== EMPTY) p = (p + 1) & mask;
      this.place(slots, p, g);
    }
    this.slots = slots;
    this.mask = mask;
  }
}
