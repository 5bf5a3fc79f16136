// An open-addressing hash table from fixed-width keys (W 32-bit words per key) to dense group ids, assigned in
// order of first appearance. Keys live row-major in one Int32Array; the table holds group ids only.

const EMPTY = -1;

export function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h;
}

function hashWords(words: Int32Array, at: number, w: number): number {
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
  private slots: Int32Array;
  private mask: number;

  constructor(
    readonly width: number,
    initialGroups = 1024,
  ) {
    let cap = 16;
    while (cap < initialGroups * 2) cap <<= 1;
    this.slots = new Int32Array(cap).fill(EMPTY);
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
    for (let i = 0; i < n; i++) {
      if (validity !== null && ((validity[i >> 3]! >> (i & 7)) & 1) === 0) {
        if (this.nullGroup < 0) this.nullGroup = this.newGroup(words, i * w, 0, true);
        out[i] = this.nullGroup;
        continue;
      }
      if (w === 1) {
        const k = words[i]!;
        const h = mix32(k);
        let s = h & this.mask;
        const slots = this.slots;
        const keys = this.keys;
        for (;;) {
          const g = slots[s]!;
          if (g === EMPTY) {
            out[i] = this.newGroup(words, i, h, false);
            break;
          }
          if (keys[g] === k) {
            out[i] = g;
            break;
          }
          s = (s + 1) & this.mask;
        }
      } else {
        const at = i * w;
        const h = w === 2 ? mix32(words[at]! ^ mix32(words[at + 1]! + 0x9e3779b9)) : hashWords(words, at, w);
        let s = h & this.mask;
        for (;;) {
          const g = this.slots[s]!;
          if (g === EMPTY) {
            out[i] = this.newGroup(words, at, h, false);
            break;
          }
          if (this.hashes[g] === h && this.sameKey(g, words, at)) {
            out[i] = g;
            break;
          }
          s = (s + 1) & this.mask;
        }
      }
    }
  }

  /** Group ids of existing keys, -1 where a key is absent or its validity bit is clear. */
  find(words: Int32Array, n: number, validity: Uint8Array | null, out: Int32Array): void {
    const w = this.width;
    const slots = this.slots;
    const keys = this.keys;
    const mask = this.mask;
    for (let i = 0; i < n; i++) {
      out[i] = EMPTY;
      if (validity !== null && ((validity[i >> 3]! >> (i & 7)) & 1) === 0) continue;
      if (w === 1) {
        const k = words[i]!;
        let s = mix32(k) & mask;
        for (;;) {
          const g = slots[s]!;
          if (g === EMPTY) break;
          if (keys[g] === k) {
            out[i] = g;
            break;
          }
          s = (s + 1) & mask;
        }
      } else {
        const at = i * w;
        const h = w === 2 ? mix32(words[at]! ^ mix32(words[at + 1]! + 0x9e3779b9)) : hashWords(words, at, w);
        let s = h & mask;
        for (;;) {
          const g = slots[s]!;
          if (g === EMPTY) break;
          if (this.hashes[g] === h && this.sameKey(g, words, at)) {
            out[i] = g;
            break;
          }
          s = (s + 1) & mask;
        }
      }
    }
  }

  private sameKey(g: number, words: Int32Array, at: number): boolean {
    const w = this.width;
    const base = g * w;
    const keys = this.keys;
    for (let j = 0; j < w; j++) if (keys[base + j] !== words[at + j]) return false;
    return true;
  }

  private newGroup(words: Int32Array, at: number, h: number, isNull: boolean): number {
    const g = this.size++;
    const w = this.width;
    if (this.size > this.hashes.length) {
      const cap = this.hashes.length * 2;
      const keys = new Int32Array(cap * Math.max(1, w));
      keys.set(this.keys);
      this.keys = keys;
      const hashes = new Int32Array(cap);
      hashes.set(this.hashes);
      this.hashes = hashes;
    }
    // The null group's key words are zeros and it is never entered in the slot table.
    if (!isNull) for (let j = 0; j < w; j++) this.keys[g * w + j] = words[at + j]!;
    this.hashes[g] = h;
    if (isNull) return g;
    if ((this.size - (this.nullGroup >= 0 ? 1 : 0)) * 2 > this.slots.length) this.grow();
    else {
      let s = h & this.mask;
      while (this.slots[s] !== EMPTY) s = (s + 1) & this.mask;
      this.slots[s] = g;
    }
    return g;
  }

  private grow(): void {
    const cap = this.slots.length * 2;
    const slots = new Int32Array(cap).fill(EMPTY);
    const mask = cap - 1;
    for (let g = 0; g < this.size; g++) {
      if (g === this.nullGroup) continue;
      let s = this.hashes[g]! & mask;
      while (slots[s] !== EMPTY) s = (s + 1) & mask;
      slots[s] = g;
    }
    this.slots = slots;
    this.mask = mask;
  }
}
