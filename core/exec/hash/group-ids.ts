// Group ids for the rows of a batch, optionally through a selection vector, inserting new keys into a KeyIndex.
// When every key column is dictionary-encoded (or bool) and the product of their cardinalities is small, as for
// TPC-H Q1's l_returnflag × l_linestatus, rows are grouped by the combination of their codes in a direct array:
// only one representative row per distinct combination goes through the KeyIndex (which interns strings and
// hashes), so group ids and their order of first appearance are those the KeyIndex gives row by row.
import * as arrow from 'apache-arrow';
import { type ColumnData, isDictionary, takeData } from '../../arrow/column.ts';
import { rowValidity } from '../batch-utils.ts';
import type { KeyIndex } from './key-index.ts';

/** Largest product of key cardinalities grouped through the direct array. */
const MAX_COMBINATIONS = 1 << 16;

export class GroupIds {
  private slots = new Int32Array(0);
  private combos = new Int32Array(0);
  private out = new Int32Array(0);
  private reps = new Int32Array(64);
  private repCombos = new Int32Array(64);

  constructor(private readonly keys: KeyIndex) {}

  /** Group ids of rows sel[0..m) (rows 0..m when `sel` is null), valid until the next call. */
  assign(cols: readonly ColumnData[], sel: Int32Array | null, m: number): Int32Array {
    const total = this.combinations(cols);
    if (total === 0) {
      const keyCols = sel === null ? cols : cols.map((c) => takeData(c, sel.subarray(0, m), false));
      return this.keys.insert(keyCols, m);
    }
    if (this.slots.length < total) this.slots = new Int32Array(Math.max(total, 64)).fill(-1);
    if (this.combos.length < m) {
      this.combos = new Int32Array(Math.max(m, 1024));
      this.out = new Int32Array(Math.max(m, 1024));
    }
    const combos = this.combos;
    cols.forEach((c, k) => codesInto(c, sel, m, combos, k === 0));
    // Local ids in order of first appearance, one representative row per combination.
    const slots = this.slots;
    const out = this.out;
    let reps = 0;
    for (let s = 0; s < m; s++) {
      const c = combos[s]!;
      let l = slots[c]!;
      if (l < 0) {
        l = reps++;
        slots[c] = l;
        if (l >= this.reps.length) this.growReps();
        this.reps[l] = sel === null ? s : sel[s]!;
        this.repCombos[l] = c;
      }
      out[s] = l;
    }
    const repRows = this.reps.subarray(0, reps);
    const gids = this.keys.insert(cols.map((c) => takeData(c, repRows, false)), reps).slice(0, reps);
    for (let s = 0; s < m; s++) out[s] = gids[out[s]!]!;
    for (let l = 0; l < reps; l++) slots[this.repCombos[l]!] = -1;
    return out;
  }

  /**
   * Rows sel[0..m) (rows 0..m when `sel` is null) sorted into runs of one group, straight from the key columns'
   * codes (a counting sort by code combination), when the direct array applies and every combination is a
   * group of its own; otherwise null (use assign, then RunSorter). Inserts new keys like assign.
   */
  runs(cols: readonly ColumnData[], sel: Int32Array | null, m: number): GroupRuns | null {
    const total = this.combinations(cols);
    if (total === 0) return null;
    if (this.combos.length < m) {
      this.combos = new Int32Array(Math.max(m, 1024));
      this.out = new Int32Array(Math.max(m, 1024));
    }
    if (this.counts.length < total) {
      this.counts = new Int32Array(Math.max(total, 64));
      this.firsts = new Int32Array(Math.max(total, 64));
    }
    const combos = this.combos;
    const counts = this.counts;
    const firsts = this.firsts;
    counts.fill(0, 0, total);
    const a = cols[0]!;
    const b = cols.length === 2 ? cols[1]! : null;
    let distinct = 0;
    const order = this.order.length < total ? (this.order = new Int32Array(Math.max(total, 64))) : this.order;
    if (cols.length <= 2 && isDictionary(a) && rowValidity(a) === null && (b === null || (isDictionary(b) && rowValidity(b) === null))) {
      // One or two dictionary keys without NULLs: codes, combination and count in one pass.
      const ca = a.values as Int32Array;
      distinct = b === null ? countCodes(ca, sel, m, combos, counts, firsts, order) : countCodePairs(ca, b.values as Int32Array, cardinality(b), sel, m, combos, counts, firsts, order);
    } else {
      cols.forEach((col, k) => codesInto(col, sel, m, combos, k === 0));
      distinct = countCombos(combos, sel, m, counts, firsts, order);
    }
    // Group ids by combination, kept while the key columns' dictionaries stay the same (the batches of one
    // Parquet column chunk, and the chunks of one batch); new combinations go through the KeyIndex with one
    // representative row each, in order of first appearance.
    if (!this.sameDictionaries(cols, total)) {
      this.comboGids.fill(-1, 0, total);
      this.usedGids.clear();
    }
    const comboGids = this.comboGids;
    let fresh = 0;
    for (let d = 0; d < distinct; d++) {
      const c = order[d]!;
      if (comboGids[c]! < 0) {
        if (fresh >= this.reps.length) this.growReps();
        this.reps[fresh] = firsts[c]!;
        this.repCombos[fresh++] = c;
      }
    }
    if (fresh > 0) {
      const repRows = this.reps.subarray(0, fresh);
      const gids = this.keys.insert(cols.map((c) => takeData(c, repRows, false)), fresh);
      for (let f = 0; f < fresh; f++) {
        const g = gids[f]!;
        // Two combinations of one group (a dictionary repeating an entry): their runs would not keep row order.
        if (this.usedGids.has(g)) {
          this.mapDicts = [];
          return this.fallbackRuns(cols, sel, m);
        }
        this.usedGids.add(g);
        comboGids[this.repCombos[f]!] = g;
      }
    }
    const sorter = this.sorter;
    sorter.alloc(distinct);
    const ends = sorter.ends;
    const groups = sorter.groups;
    let pos = 0;
    for (let d = 0; d < distinct; d++) {
      const c = order[d]!;
      const n = counts[c]!;
      counts[c] = pos;
      pos += n;
      ends[d] = pos;
      groups[d] = comboGids[c]!;
    }
    const rows = sorter.rowBuffer(m);
    scatter(combos, sel, m, counts, rows);
    return { rows, ends, groups, count: distinct };
  }

  private fallbackRuns(cols: readonly ColumnData[], sel: Int32Array | null, m: number): GroupRuns {
    const gids = this.assign(cols, sel, m);
    return this.sorter.sort(gids, sel, m, this.keys.size);
  }

  private counts = new Int32Array(0);
  private firsts = new Int32Array(0);
  private order = new Int32Array(0);
  private readonly sorter = new RunSorter();
  private comboGids = new Int32Array(0);
  private readonly usedGids = new Set<number>();
  /** The dictionaries (or column kinds) comboGids was built for. */
  private mapDicts: unknown[] = [];

  private sameDictionaries(cols: readonly ColumnData[], total: number): boolean {
    const dicts = cols.map((c) => (isDictionary(c) ? c.dictionary : c.type.typeId));
    const same = dicts.length === this.mapDicts.length && dicts.every((d, k) => d === this.mapDicts[k]) && this.comboGids.length >= total;
    if (!same) {
      this.mapDicts = dicts;
      if (this.comboGids.length < total) this.comboGids = new Int32Array(Math.max(total, 64));
    }
    return same;
  }

  private growReps(): void {
    const r = new Int32Array(this.reps.length * 2);
    r.set(this.reps);
    this.reps = r;
    const c = new Int32Array(this.repCombos.length * 2);
    c.set(this.repCombos);
    this.repCombos = c;
  }

  /** Product of the key columns' cardinalities (NULL counted as a value), or 0 when the direct array is not used. */
  private combinations(cols: readonly ColumnData[]): number {
    let total = 1;
    for (const c of cols) {
      const card = cardinality(c);
      if (card === 0) return 0;
      total *= card;
      if (total > MAX_COMBINATIONS) return 0;
    }
    return total;
  }
}

function cardinality(c: ColumnData): number {
  if (isDictionary(c)) return c.values instanceof Int32Array ? c.dictionary!.length + 1 : 0;
  if (c.type.typeId === arrow.Type.Bool) return 3;
  return 0;
}

/** combos[s] = combos[s] * cardinality + code of row sel[s] (or the code alone when `first`); NULL's code is the last. */
function codesInto(c: ColumnData, sel: Int32Array | null, m: number, combos: Int32Array, first: boolean): void {
  const card = cardinality(c);
  const valid = rowValidity(c);
  const nullCode = card - 1;
  const mul = first ? 0 : card;
  if (isDictionary(c)) {
    const codes = c.values as Int32Array;
    if (valid === null) {
      if (sel === null) for (let s = 0; s < m; s++) combos[s] = combos[s]! * mul + codes[s]!;
      else for (let s = 0; s < m; s++) combos[s] = combos[s]! * mul + codes[sel[s]!]!;
    } else {
      for (let s = 0; s < m; s++) {
        const i = sel === null ? s : sel[s]!;
        combos[s] = combos[s]! * mul + (((valid[i >> 3]! >> (i & 7)) & 1) === 1 ? codes[i]! : nullCode);
      }
    }
    return;
  }
  const bits = c.values as Uint8Array;
  for (let s = 0; s < m; s++) {
    const i = sel === null ? s : sel[s]!;
    const code = valid !== null && ((valid[i >> 3]! >> (i & 7)) & 1) === 0 ? nullCode : (bits[i >> 3]! >> (i & 7)) & 1;
    combos[s] = combos[s]! * mul + code;
  }
}

/** Positions grouped into runs of one group: positions [ends[r-1], ends[r]) of `rows` belong to groups[r]. */
export interface GroupRuns {
  /** Row indices in run order (null: the identity, rows 0..m). */
  readonly rows: Int32Array | null;
  readonly ends: Int32Array;
  readonly groups: Int32Array;
  readonly count: number;
}

/**
 * Reorders selected rows by group with a stable counting sort, so that a fused kernel keeps each group's state
 * in locals for a whole run. Rows of one group stay in input order (float sums add up in the same order).
 */
export class RunSorter {
  private counts = new Int32Array(0);
  private rows = new Int32Array(0);
  ends = new Int32Array(0);
  groups = new Int32Array(0);

  /** A buffer for `m` row indices (reused). */
  rowBuffer(m: number): Int32Array {
    if (this.rows.length < m) this.rows = new Int32Array(Math.max(m, 1024));
    return this.rows;
  }

  /** The one run of a global aggregate (group 0). */
  single(sel: Int32Array | null, m: number): GroupRuns {
    if (this.ends.length < 1) this.alloc(1);
    this.ends[0] = m;
    this.groups[0] = 0;
    return { rows: sel, ends: this.ends, groups: this.groups, count: 1 };
  }

  /** Rows sel[s] (or s) for s < m, of groups gids[s] < groupCount, sorted into runs. */
  sort(gids: Int32Array, sel: Int32Array | null, m: number, groupCount: number): GroupRuns {
    if (this.counts.length < groupCount) this.counts = new Int32Array(Math.max(groupCount, 64));
    this.rowBuffer(m);
    this.alloc(groupCount);
    const counts = this.counts;
    counts.fill(0, 0, groupCount);
    for (let s = 0; s < m; s++) counts[gids[s]!]!++;
    const ends = this.ends;
    const groups = this.groups;
    let runs = 0;
    let pos = 0;
    for (let g = 0; g < groupCount; g++) {
      const c = counts[g]!;
      if (c === 0) continue;
      counts[g] = pos; // start of the group's run
      pos += c;
      ends[runs] = pos;
      groups[runs++] = g;
    }
    const rows = this.rows;
    if (sel === null) for (let s = 0; s < m; s++) rows[counts[gids[s]!]!++] = s;
    else for (let s = 0; s < m; s++) rows[counts[gids[s]!]!++] = sel[s]!;
    return { rows, ends, groups, count: runs };
  }

  alloc(groupCount: number): void {
    if (this.ends.length < groupCount) {
      this.ends = new Int32Array(Math.max(groupCount, 64));
      this.groups = new Int32Array(Math.max(groupCount, 64));
    }
  }
}

// The loops of GroupIds.runs, over typed arrays only: kept apart from the code that reads Arrow objects, whose
// varying shapes would otherwise deoptimize the function holding the loop again and again.

function countCodes(
  ca: Int32Array,
  sel: Int32Array | null,
  m: number,
  combos: Int32Array,
  counts: Int32Array,
  firsts: Int32Array,
  order: Int32Array,
): number {
  let distinct = 0;
  for (let s = 0; s < m; s++) {
    const i = sel === null ? s : sel[s]!;
    const c = ca[i]!;
    combos[s] = c;
    if (counts[c]!++ === 0) {
      firsts[c] = i;
      order[distinct++] = c;
    }
  }
  return distinct;
}

function countCodePairs(
  ca: Int32Array,
  cb: Int32Array,
  mul: number,
  sel: Int32Array | null,
  m: number,
  combos: Int32Array,
  counts: Int32Array,
  firsts: Int32Array,
  order: Int32Array,
): number {
  let distinct = 0;
  for (let s = 0; s < m; s++) {
    const i = sel === null ? s : sel[s]!;
    const c = ca[i]! * mul + cb[i]!;
    combos[s] = c;
    if (counts[c]!++ === 0) {
      firsts[c] = i;
      order[distinct++] = c;
    }
  }
  return distinct;
}

function countCombos(combos: Int32Array, sel: Int32Array | null, m: number, counts: Int32Array, firsts: Int32Array, order: Int32Array): number {
  let distinct = 0;
  for (let s = 0; s < m; s++) {
    const c = combos[s]!;
    if (counts[c]!++ === 0) {
      firsts[c] = sel === null ? s : sel[s]!;
      order[distinct++] = c;
    }
  }
  return distinct;
}

/** rows[counts[combos[s]]++] = row of position s: counts holds each combination's start. */
function scatter(combos: Int32Array, sel: Int32Array | null, m: number, counts: Int32Array, rows: Int32Array): void {
  if (sel === null) for (let s = 0; s < m; s++) rows[counts[combos[s]!]!++] = s;
  else for (let s = 0; s < m; s++) rows[counts[combos[s]!]!++] = sel[s]!;
}
