// Squall's own TPC-H data generator: all 8 tables at any scale factor, written as Parquet with parquet-wasm.
//
// It follows the TPC-H specification (clause 4.2) for schemas, keys, cardinalities, value domains and the
// derived columns (dates, return flag, line status, order status, total price, retail price, partsupp and
// lineitem supplier assignment, sparse order keys), but it is not dbgen: it uses its own seeded PRNG, so the
// values differ from dbgen's row for row, and comments are random substrings of a text pool built from the
// spec's word lists and grammar (dists.dss) rather than dbgen's exact pool. See bench/tpch/README.md for the
// list of deviations.
//
// File layout: one Parquet file per table, `<outDir>/<table>.parquet`, row groups of 122,880 rows (as DuckDB
// writes), plus `<outDir>/manifest.json` recording the parameters and the row count and size of each file.
// Large tables are generated in chunks and streamed through parquet-wasm's `transformParquetStream`, so only
// one chunk (~123k rows) of a table is held in JS memory at a time. Files are written to a temporary name and
// renamed when complete, so a file named in the manifest is always whole.
//
// CLI: npx tsx bench/tpch/generate.ts --sf 1 --out bench/.data/tpch-sf1 [--compression snappy|zstd|none]
//      [--tables lineitem,orders] [--seed N] [--force]
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import * as arrow from 'apache-arrow';
import * as pw from 'parquet-wasm';
import { DataTypes } from '../../core/types/data-type.ts';
import { type Schema, field, schema } from '../../core/types/schema.ts';
import { toArrowSchema } from '../../core/types/arrow-types.ts';

// ---------------------------------------------------------------------------------------------------------
// Schemas

export type TpchTableName = 'region' | 'nation' | 'supplier' | 'customer' | 'part' | 'partsupp' | 'orders' | 'lineitem';

export const TPCH_TABLES: readonly TpchTableName[] = Object.freeze([
  'region',
  'nation',
  'supplier',
  'customer',
  'part',
  'partsupp',
  'orders',
  'lineitem',
]);

const I32 = DataTypes.int32;
const I64 = DataTypes.int64;
const DEC = DataTypes.decimal(15, 2);
const DATE = DataTypes.date32;
const STR = DataTypes.utf8;

function tableSchema(cols: [string, typeof I32][]): Schema {
  return schema(cols.map(([n, t]) => field(n, t, false)));
}

/** Column names and Squall types of the 8 tables, as DuckDB's tpch extension types them (all NOT NULL). */
export const TPCH_SCHEMAS: Readonly<Record<TpchTableName, Schema>> = Object.freeze({
  region: tableSchema([
    ['r_regionkey', I32],
    ['r_name', STR],
    ['r_comment', STR],
  ]),
  nation: tableSchema([
    ['n_nationkey', I32],
    ['n_name', STR],
    ['n_regionkey', I32],
    ['n_comment', STR],
  ]),
  supplier: tableSchema([
    ['s_suppkey', I32],
    ['s_name', STR],
    ['s_address', STR],
    ['s_nationkey', I32],
    ['s_phone', STR],
    ['s_acctbal', DEC],
    ['s_comment', STR],
  ]),
  customer: tableSchema([
    ['c_custkey', I32],
    ['c_name', STR],
    ['c_address', STR],
    ['c_nationkey', I32],
    ['c_phone', STR],
    ['c_acctbal', DEC],
    ['c_mktsegment', STR],
    ['c_comment', STR],
  ]),
  part: tableSchema([
    ['p_partkey', I32],
    ['p_name', STR],
    ['p_mfgr', STR],
    ['p_brand', STR],
    ['p_type', STR],
    ['p_size', I32],
    ['p_container', STR],
    ['p_retailprice', DEC],
    ['p_comment', STR],
  ]),
  partsupp: tableSchema([
    ['ps_partkey', I32],
    ['ps_suppkey', I32],
    ['ps_availqty', I32],
    ['ps_supplycost', DEC],
    ['ps_comment', STR],
  ]),
  orders: tableSchema([
    ['o_orderkey', I64],
    ['o_custkey', I32],
    ['o_orderstatus', STR],
    ['o_totalprice', DEC],
    ['o_orderdate', DATE],
    ['o_orderpriority', STR],
    ['o_clerk', STR],
    ['o_shippriority', I32],
    ['o_comment', STR],
  ]),
  lineitem: tableSchema([
    ['l_orderkey', I64],
    ['l_partkey', I32],
    ['l_suppkey', I32],
    ['l_linenumber', I32],
    ['l_quantity', DEC],
    ['l_extendedprice', DEC],
    ['l_discount', DEC],
    ['l_tax', DEC],
    ['l_returnflag', STR],
    ['l_linestatus', STR],
    ['l_shipdate', DATE],
    ['l_commitdate', DATE],
    ['l_receiptdate', DATE],
    ['l_shipinstruct', STR],
    ['l_shipmode', STR],
    ['l_comment', STR],
  ]),
});

// ---------------------------------------------------------------------------------------------------------
// Cardinalities (spec 4.2.5)

export interface TpchCounts {
  region: number;
  nation: number;
  supplier: number;
  customer: number;
  part: number;
  partsupp: number;
  orders: number;
  /** Expected lineitem rows (orders × 4, the mean of 1..7 lines per order); the exact count is random. */
  lineitemExpected: number;
  clerks: number;
}

function scaled(base: number, sf: number): number {
  return Math.max(1, Math.floor(base * sf + 1e-9));
}

export function tpchCounts(scaleFactor: number): TpchCounts {
  const part = scaled(200_000, scaleFactor);
  const orders = scaled(1_500_000, scaleFactor);
  return {
    region: 5,
    nation: 25,
    supplier: scaled(10_000, scaleFactor),
    customer: scaled(150_000, scaleFactor),
    part,
    partsupp: part * 4,
    orders,
    lineitemExpected: orders * 4,
    clerks: scaled(1_000, scaleFactor),
  };
}

// ---------------------------------------------------------------------------------------------------------
// Constants from the specification / dists.dss

const DAY_MS = 86_400_000;
const epochDay = (y: number, m: number, d: number) => Date.UTC(y, m - 1, d) / DAY_MS;
const STARTDATE = epochDay(1992, 1, 1);
const ENDDATE = epochDay(1998, 12, 31);
const CURRENTDATE = epochDay(1995, 6, 17);
/** o_orderdate is uniform in [STARTDATE, ENDDATE - 151 days]. */
const LAST_ORDERDATE = ENDDATE - 151;

const REGIONS = ['AFRICA', 'AMERICA', 'ASIA', 'EUROPE', 'MIDDLE EAST'];
/** [name, regionkey] in n_nationkey order. */
const NATIONS: [string, number][] = [
  ['ALGERIA', 0],
  ['ARGENTINA', 1],
  ['BRAZIL', 1],
  ['CANADA', 1],
  ['EGYPT', 4],
  ['ETHIOPIA', 0],
  ['FRANCE', 3],
  ['GERMANY', 3],
  ['INDIA', 2],
  ['INDONESIA', 2],
  ['IRAN', 4],
  ['IRAQ', 4],
  ['JAPAN', 2],
  ['JORDAN', 4],
  ['KENYA', 0],
  ['MOROCCO', 0],
  ['MOZAMBIQUE', 0],
  ['PERU', 1],
  ['CHINA', 2],
  ['ROMANIA', 3],
  ['SAUDI ARABIA', 4],
  ['VIETNAM', 2],
  ['RUSSIA', 3],
  ['UNITED KINGDOM', 3],
  ['UNITED STATES', 1],
];

const SEGMENTS = ['AUTOMOBILE', 'BUILDING', 'FURNITURE', 'HOUSEHOLD', 'MACHINERY'];
const PRIORITIES = ['1-URGENT', '2-HIGH', '3-MEDIUM', '4-NOT SPECIFIED', '5-LOW'];
const SHIPINSTRUCT = ['DELIVER IN PERSON', 'COLLECT COD', 'TAKE BACK RETURN', 'NONE'];
const SHIPMODES = ['REG AIR', 'AIR', 'RAIL', 'TRUCK', 'MAIL', 'FOB', 'SHIP'];
const TYPE_S1 = ['STANDARD', 'SMALL', 'MEDIUM', 'LARGE', 'ECONOMY', 'PROMO'];
const TYPE_S2 = ['ANODIZED', 'BURNISHED', 'PLATED', 'POLISHED', 'BRUSHED'];
const TYPE_S3 = ['TIN', 'NICKEL', 'BRASS', 'STEEL', 'COPPER'];
const CONTAINER_S1 = ['SM', 'LG', 'MED', 'JUMBO', 'WRAP'];
const CONTAINER_S2 = ['CASE', 'BOX', 'BAG', 'JAR', 'PACK', 'PKG', 'CAN', 'DRUM'];
const P_TYPES = TYPE_S1.flatMap((a) => TYPE_S2.flatMap((b) => TYPE_S3.map((c) => `${a} ${b} ${c}`)));
const P_CONTAINERS = CONTAINER_S1.flatMap((a) => CONTAINER_S2.map((b) => `${a} ${b}`));
const COLORS = [
  'almond', 'antique', 'aquamarine', 'azure', 'beige', 'bisque', 'black', 'blanched', 'blue', 'blush', 'brown',
  'burlywood', 'burnished', 'chartreuse', 'chiffon', 'chocolate', 'coral', 'cornflower', 'cornsilk', 'cream',
  'cyan', 'dark', 'deep', 'dim', 'dodger', 'drab', 'firebrick', 'floral', 'forest', 'frosted', 'gainsboro',
  'ghost', 'goldenrod', 'green', 'grey', 'honeydew', 'hot', 'indian', 'ivory', 'khaki', 'lace', 'lavender',
  'lawn', 'lemon', 'light', 'lime', 'linen', 'magenta', 'maroon', 'medium', 'metallic', 'midnight', 'mint',
  'misty', 'moccasin', 'navajo', 'navy', 'olive', 'orange', 'orchid', 'pale', 'papaya', 'peach', 'peru', 'pink',
  'plum', 'powder', 'puff', 'purple', 'red', 'rose', 'rosy', 'royal', 'saddle', 'salmon', 'sandy', 'seashell',
  'sienna', 'sky', 'slate', 'smoke', 'snow', 'spring', 'steel', 'tan', 'thistle', 'tomato', 'turquoise',
  'violet', 'wheat', 'white', 'yellow',
];

// Pseudo-text word distributions (word, weight), from the specification's dists.dss.
type Dist = [string, number][];
const NOUNS: Dist = [
  ['packages', 40], ['requests', 40], ['accounts', 40], ['deposits', 40], ['foxes', 20], ['ideas', 20],
  ['theodolites', 20], ['pinto beans', 20], ['instructions', 20], ['dependencies', 10], ['excuses', 10],
  ['platelets', 10], ['asymptotes', 10], ['courts', 5], ['dolphins', 5], ['multipliers', 1], ['sauternes', 1],
  ['warthogs', 1], ['frets', 1], ['dinos', 1], ['attainments', 1], ['somas', 1], ['Tiresias', 1], ['patterns', 1],
  ['forges', 1], ['braids', 1], ['frays', 1], ['warhorses', 1], ['dugouts', 1], ['notornis', 1], ['epitaphs', 1],
  ['pearls', 1], ['tithes', 1], ['waters', 1], ['orbits', 1], ['gifts', 1], ['sheaves', 1], ['depths', 1],
  ['sentiments', 1], ['decoys', 1], ['realms', 1], ['pains', 1], ['grouches', 1], ['escapades', 1],
  ['hockey players', 1],
];
const VERBS: Dist = [
  ['sleep', 20], ['wake', 20], ['are', 20], ['cajole', 20], ['haggle', 20], ['nag', 10], ['use', 10], ['boost', 10],
  ['affix', 5], ['detect', 5], ['integrate', 5], ['maintain', 1], ['nod', 1], ['was', 1], ['lose', 1],
  ['sublate', 1], ['solve', 1], ['thrash', 1], ['promise', 1], ['engage', 1], ['hinder', 1], ['print', 1],
  ['x-ray', 1], ['breach', 1], ['eat', 1], ['grow', 1], ['impress', 1], ['mold', 1], ['poach', 1], ['serve', 1],
  ['run', 1], ['dazzle', 1], ['snooze', 1], ['doze', 1], ['unwind', 1], ['kindle', 1], ['play', 1], ['hang', 1],
  ['believe', 1], ['doubt', 1],
];
const ADJECTIVES: Dist = [
  ['special', 20], ['pending', 20], ['unusual', 20], ['express', 20], ['furious', 1], ['sly', 1], ['careful', 1],
  ['blithe', 1], ['quick', 1], ['fluffy', 1], ['slow', 1], ['quiet', 1], ['ruthless', 1], ['thin', 1], ['close', 1],
  ['dogged', 1], ['daring', 1], ['brave', 1], ['stealthy', 1], ['permanent', 1], ['enticing', 1], ['idle', 1],
  ['busy', 1], ['regular', 50], ['final', 40], ['ironic', 40], ['even', 30], ['bold', 20], ['silent', 10],
];
const ADVERBS: Dist = [
  ['sometimes', 1], ['always', 1], ['never', 1], ['furiously', 50], ['slyly', 50], ['carefully', 50],
  ['blithely', 40], ['quickly', 30], ['fluffily', 20], ['slowly', 1], ['quietly', 1], ['ruthlessly', 1],
  ['thinly', 1], ['closely', 1], ['doggedly', 1], ['daringly', 1], ['bravely', 1], ['stealthily', 1],
  ['permanently', 1], ['enticingly', 1], ['idly', 1], ['busily', 1], ['regularly', 1], ['finally', 1],
  ['ironically', 1], ['evenly', 1], ['boldly', 1], ['silently', 1],
];
const PREPOSITIONS: Dist = [
  ['about', 50], ['above', 50], ['according to', 50], ['across', 50], ['after', 50], ['against', 40],
  ['along', 40], ['alongside of', 30], ['among', 30], ['around', 20], ['at', 10], ['atop', 1], ['before', 1],
  ['behind', 1], ['beneath', 1], ['beside', 1], ['besides', 1], ['between', 1], ['beyond', 1], ['by', 1],
  ['despite', 1], ['during', 1], ['except', 1], ['for', 1], ['from', 1], ['in place of', 1], ['inside', 1],
  ['instead of', 1], ['into', 1], ['near', 1], ['of', 1], ['on', 1], ['outside', 1], ['over', 1], ['past', 1],
  ['since', 1], ['through', 1], ['throughout', 1], ['to', 1], ['toward', 1], ['under', 1], ['until', 1],
  ['up', 1], ['upon', 1], ['without', 1], ['with', 1], ['within', 1],
];
const AUXILIARIES: Dist = [
  ['do', 1], ['may', 1], ['might', 1], ['shall', 1], ['will', 1], ['would', 1], ['can', 1], ['could', 1],
  ['should', 1], ['ought to', 1], ['must', 1], ['will have to', 1], ['shall have to', 1], ['could have to', 1],
  ['should have to', 1], ['must have to', 1], ['need to', 1], ['try to', 1],
];
const TERMINATORS: Dist = [['.', 50], [';', 1], [':', 1], ['?', 1], ['!', 1], ['--', 1]];
/** Sentence forms: N noun phrase, V verb phrase, P prepositional phrase ("P the N"); terminator implied. */
const GRAMMAR: Dist = [['NV', 3], ['NVP', 3], ['NVN', 3], ['NPVN', 1], ['NPVP', 1]];
const NOUN_PHRASES: Dist = [['N', 10], ['JN', 20], ['J,JN', 10], ['DJN', 50]];
const VERB_PHRASES: Dist = [['V', 30], ['XV', 1], ['VD', 40], ['XVD', 1]];

/** Comment length ranges (spec 4.2.3): [min, max] bytes. */
const LEN = {
  r_comment: [31, 115],
  n_comment: [31, 114],
  s_comment: [25, 100],
  c_comment: [29, 116],
  p_comment: [5, 22],
  ps_comment: [49, 198],
  o_comment: [19, 78],
  l_comment: [10, 43],
  address: [10, 40],
} as const;

// ---------------------------------------------------------------------------------------------------------
// PRNG: sfc32 (Chris Doty-Humphrey's small fast counting generator), seeded through splitmix32.

function splitmix32(state: number): () => number {
  let s = state >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
}

export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d = 1;

  constructor(seed: number, stream: number) {
    const sm = splitmix32((Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(stream + 1, 0x85ebca77)) >>> 0);
    this.a = sm();
    this.b = sm();
    this.c = sm();
    for (let i = 0; i < 16; i++) this.next();
  }

  /** Uniform uint32. */
  next(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform integer in [lo, hi] (inclusive). */
  int(lo: number, hi: number): number {
    const v = lo + Math.floor(this.next() * 2.3283064365386963e-10 * (hi - lo + 1));
    return v > hi ? hi : v;
  }
}

class WeightedPicker {
  private readonly cumulative: Float64Array;
  private readonly total: number;
  constructor(readonly words: readonly string[], weights: readonly number[]) {
    this.cumulative = new Float64Array(weights.length);
    let sum = 0;
    weights.forEach((w, i) => (this.cumulative[i] = sum += w));
    this.total = sum;
  }
  static of(d: Dist): WeightedPicker {
    return new WeightedPicker(
      d.map((x) => x[0]),
      d.map((x) => x[1]),
    );
  }
  pick(rng: Rng): string {
    const r = rng.int(1, this.total);
    let i = 0;
    while (this.cumulative[i]! < r) i++;
    return this.words[i]!;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Text pool: sentences from the spec's grammar; comments are random substrings of it (as dbgen does with its
// 300 MB pool).

const TEXT_POOL_BYTES = 1 << 23; // 8 MiB

function buildTextPool(seed: number): Uint8Array {
  const rng = new Rng(seed, 1000);
  const nouns = WeightedPicker.of(NOUNS);
  const verbs = WeightedPicker.of(VERBS);
  const adjectives = WeightedPicker.of(ADJECTIVES);
  const adverbs = WeightedPicker.of(ADVERBS);
  const preps = WeightedPicker.of(PREPOSITIONS);
  const aux = WeightedPicker.of(AUXILIARIES);
  const terms = WeightedPicker.of(TERMINATORS);
  const grammar = WeightedPicker.of(GRAMMAR);
  const nps = WeightedPicker.of(NOUN_PHRASES);
  const vps = WeightedPicker.of(VERB_PHRASES);
  const pool = new Uint8Array(TEXT_POOL_BYTES);
  let pos = 0;
  const words: string[] = [];
  const nounPhrase = () => {
    const form = nps.pick(rng);
    if (form === 'N') words.push(nouns.pick(rng));
    else if (form === 'JN') words.push(adjectives.pick(rng), nouns.pick(rng));
    else if (form === 'J,JN') words.push(adjectives.pick(rng) + ',', adjectives.pick(rng), nouns.pick(rng));
    else words.push(adverbs.pick(rng), adjectives.pick(rng), nouns.pick(rng));
  };
  const verbPhrase = () => {
    const form = vps.pick(rng);
    if (form.startsWith('X')) words.push(aux.pick(rng));
    words.push(verbs.pick(rng));
    if (form.endsWith('D')) words.push(adverbs.pick(rng));
  };
  while (pos < pool.length) {
    words.length = 0;
    for (const part of grammar.pick(rng)) {
      if (part === 'N') nounPhrase();
      else if (part === 'V') verbPhrase();
      else words.push(preps.pick(rng), 'the', nouns.pick(rng));
    }
    const sentence = words.join(' ') + terms.pick(rng) + ' ';
    for (let i = 0; i < sentence.length && pos < pool.length; i++) pool[pos++] = sentence.charCodeAt(i);
  }
  return pool;
}

// ---------------------------------------------------------------------------------------------------------
// Column builders over typed arrays (no per-row objects).

const ascii = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));
const asciiList = (list: readonly string[]) => list.map(ascii);

class Utf8Builder {
  private offsets: Int32Array;
  private bytes: Uint8Array;
  private pos = 0;
  private n = 0;

  constructor(rows: number, maxBytesPerRow: number) {
    this.offsets = new Int32Array(rows + 1);
    this.bytes = new Uint8Array(Math.max(16, rows * maxBytesPerRow));
  }

  private grow(extra: number): void {
    let size = this.bytes.length * 2;
    while (size < this.pos + extra) size *= 2;
    const b = new Uint8Array(size);
    b.set(this.bytes.subarray(0, this.pos));
    this.bytes = b;
  }

  put(src: Uint8Array): this {
    return this.putSlice(src, 0, src.length);
  }

  putSlice(src: Uint8Array, start: number, len: number): this {
    if (this.pos + len > this.bytes.length) this.grow(len);
    const b = this.bytes;
    let p = this.pos;
    for (let i = start, end = start + len; i < end; i++) b[p++] = src[i]!;
    this.pos = p;
    return this;
  }

  putByte(c: number): this {
    if (this.pos + 1 > this.bytes.length) this.grow(1);
    this.bytes[this.pos++] = c;
    return this;
  }

  /** `value` in decimal, left-padded with zeros to `width` digits. */
  putInt(value: number, width: number): this {
    let digits = 1;
    for (let v = value; v >= 10; v = Math.floor(v / 10)) digits++;
    const w = Math.max(width, digits);
    if (this.pos + w > this.bytes.length) this.grow(w);
    let p = this.pos + w;
    let v = value;
    for (let i = 0; i < w; i++) {
      this.bytes[--p] = 48 + (v % 10);
      v = Math.floor(v / 10);
    }
    this.pos += w;
    return this;
  }

  end(): void {
    this.offsets[++this.n] = this.pos;
  }

  /** The row being built, as bytes (after some puts, before end()). */
  current(): Uint8Array {
    return this.bytes.subarray(this.offsets[this.n]!, this.pos);
  }

  finish(): arrow.Data<arrow.Utf8> {
    return arrow.makeData({
      type: new arrow.Utf8(),
      length: this.n,
      nullCount: 0,
      valueOffsets: this.offsets.subarray(0, this.n + 1),
      data: this.bytes.subarray(0, this.pos),
    });
  }
}

/** Writes `cents` as the unscaled value of a Decimal64 (2 little-endian uint32 words, two's complement). */
function setDecimal(words: Uint32Array, i: number, cents: number): void {
  const j = i << 1;
  words[j] = cents >>> 0;
  words[j + 1] = Math.floor(cents / 4294967296) >>> 0;
}

/** Writes a non-negative safe integer into an Int64 column viewed as uint32 pairs. */
function setInt64(words: Uint32Array, i: number, v: number): void {
  words[i << 1] = v >>> 0;
  words[(i << 1) + 1] = Math.floor(v / 4294967296) >>> 0;
}

const DECIMAL_TYPE = new arrow.Decimal(2, 15, 64);
const int32Data = (a: Int32Array, n: number) => arrow.makeData({ type: new arrow.Int32(), length: n, nullCount: 0, data: a.subarray(0, n) });
const dateData = (a: Int32Array, n: number) => arrow.makeData({ type: new arrow.DateDay(), length: n, nullCount: 0, data: a.subarray(0, n) });
const int64Data = (a: Uint32Array, n: number) =>
  arrow.makeData({ type: new arrow.Int64(), length: n, nullCount: 0, data: new BigInt64Array(a.buffer, a.byteOffset, n) });
const decimalData = (a: Uint32Array, n: number) =>
  arrow.makeData({ type: DECIMAL_TYPE, length: n, nullCount: 0, data: a.subarray(0, 2 * n) });

const ARROW_SCHEMAS = Object.fromEntries(TPCH_TABLES.map((t) => [t, toArrowSchema(TPCH_SCHEMAS[t])])) as Record<
  TpchTableName,
  arrow.Schema
>;

function makeBatch(table: TpchTableName, length: number, children: arrow.Data[]): arrow.RecordBatch {
  const s = ARROW_SCHEMAS[table];
  if (children.length !== s.fields.length) throw new Error(`internal: ${table} batch has ${children.length} columns`);
  children.forEach((c, i) => {
    if (c.length !== length) throw new Error(`internal: ${table}.${s.fields[i]!.name} has ${c.length} rows, expected ${length}`);
  });
  const data = arrow.makeData({ type: new arrow.Struct(s.fields), length, nullCount: 0, children });
  return new arrow.RecordBatch(s, data);
}

// ---------------------------------------------------------------------------------------------------------
// Table generators. Each yields Arrow record batches of at most ~CHUNK_ROWS rows and draws from its own PRNG
// stream, so a table's contents do not depend on which other tables are generated.

export const DEFAULT_ROW_GROUP_SIZE = 122_880;
/** Rows per generated chunk (a lineitem chunk is ~4× this many orders' lines). */
const CHUNK_ROWS = DEFAULT_ROW_GROUP_SIZE;

interface GenContext {
  seed: number;
  scaleFactor: number;
  counts: TpchCounts;
  text: Uint8Array;
}

const STREAM = { region: 1, nation: 2, supplier: 3, customer: 4, part: 5, partsupp: 6, orders: 7 } as const;

class TextGen {
  constructor(
    private readonly pool: Uint8Array,
    private readonly rng: Rng,
  ) {}
  /** Appends a random pool substring with length uniform in [min, max]. */
  put(b: Utf8Builder, range: readonly [number, number]): void {
    const len = this.rng.int(range[0], range[1]);
    const off = this.rng.int(0, this.pool.length - len);
    b.putSlice(this.pool, off, len);
  }
}

const ALNUM = ascii('0123456789abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ,');

function putAddress(b: Utf8Builder, rng: Rng): void {
  const len = rng.int(LEN.address[0], LEN.address[1]);
  for (let i = 0; i < len; i++) b.putByte(ALNUM[rng.int(0, ALNUM.length - 1)]!);
}

/** "CC-LLL-LLL-LLLL" with country code nationkey + 10 (spec 4.2.2.9). */
function putPhone(b: Utf8Builder, rng: Rng, nationkey: number): void {
  b.putInt(nationkey + 10, 2).putByte(45).putInt(rng.int(100, 999), 3).putByte(45).putInt(rng.int(100, 999), 3);
  b.putByte(45).putInt(rng.int(1000, 9999), 4);
}

function* regionBatches(ctx: GenContext): Generator<arrow.RecordBatch> {
  const rng = new Rng(ctx.seed, STREAM.region);
  const text = new TextGen(ctx.text, rng);
  const n = REGIONS.length;
  const key = new Int32Array(n);
  const name = new Utf8Builder(n, 16);
  const comment = new Utf8Builder(n, LEN.r_comment[1]);
  REGIONS.forEach((r, i) => {
    key[i] = i;
    name.put(ascii(r)).end();
    text.put(comment, LEN.r_comment);
    comment.end();
  });
  yield makeBatch('region', n, [int32Data(key, n), name.finish(), comment.finish()]);
}

function* nationBatches(ctx: GenContext): Generator<arrow.RecordBatch> {
  const rng = new Rng(ctx.seed, STREAM.nation);
  const text = new TextGen(ctx.text, rng);
  const n = NATIONS.length;
  const key = new Int32Array(n);
  const region = new Int32Array(n);
  const name = new Utf8Builder(n, 16);
  const comment = new Utf8Builder(n, LEN.n_comment[1]);
  NATIONS.forEach(([nm, r], i) => {
    key[i] = i;
    region[i] = r;
    name.put(ascii(nm)).end();
    text.put(comment, LEN.n_comment);
    comment.end();
  });
  yield makeBatch('nation', n, [int32Data(key, n), name.finish(), int32Data(region, n), comment.finish()]);
}

/** Picks `k` distinct integers of [1, n]. */
function distinctKeys(rng: Rng, n: number, k: number, exclude: Set<number> = new Set()): Set<number> {
  const out = new Set<number>();
  const want = Math.min(k, n - exclude.size);
  while (out.size < want) {
    const v = rng.int(1, n);
    if (!exclude.has(v)) out.add(v);
  }
  return out;
}

const CUSTOMER = ascii('Customer ');
const COMPLAINTS = ascii('Complaints');
const RECOMMENDS = ascii('Recommends');

function* supplierBatches(ctx: GenContext): Generator<arrow.RecordBatch> {
  const total = ctx.counts.supplier;
  const rng = new Rng(ctx.seed, STREAM.supplier);
  const text = new TextGen(ctx.text, rng);
  // Spec 4.2.3: SF*5 suppliers have "Customer ... Complaints" in s_comment and SF*5 "Customer ... Recommends"
  // (Q16). We keep at least one of each so small scale factors still exercise Q16's filter.
  const perKind = Math.max(1, Math.round(5 * ctx.scaleFactor));
  const complaints = distinctKeys(rng, total, perKind);
  const recommends = distinctKeys(rng, total, perKind, complaints);
  const prefix = ascii('Supplier#');
  for (let start = 0; start < total; start += CHUNK_ROWS) {
    const n = Math.min(CHUNK_ROWS, total - start);
    const key = new Int32Array(n);
    const nation = new Int32Array(n);
    const acctbal = new Uint32Array(2 * n);
    const name = new Utf8Builder(n, 18);
    const address = new Utf8Builder(n, LEN.address[1]);
    const phone = new Utf8Builder(n, 15);
    const comment = new Utf8Builder(n, LEN.s_comment[1]);
    for (let i = 0; i < n; i++) {
      const k = start + i + 1;
      key[i] = k;
      name.put(prefix).putInt(k, 9).end();
      putAddress(address, rng);
      address.end();
      const nk = rng.int(0, 24);
      nation[i] = nk;
      putPhone(phone, rng, nk);
      phone.end();
      setDecimal(acctbal, i, rng.int(-99_999, 999_999));
      text.put(comment, LEN.s_comment);
      const bbb = complaints.has(k) ? COMPLAINTS : recommends.has(k) ? RECOMMENDS : null;
      if (bbb) {
        // Overwrite "Customer " at a random position and the keyword somewhere after it, keeping the length.
        const row = comment.current();
        const room = row.length - CUSTOMER.length - bbb.length;
        const at = rng.int(0, room);
        const gap = rng.int(0, room - at);
        row.set(CUSTOMER, at);
        row.set(bbb, at + CUSTOMER.length + gap);
      }
      comment.end();
    }
    yield makeBatch('supplier', n, [
      int32Data(key, n),
      name.finish(),
      address.finish(),
      int32Data(nation, n),
      phone.finish(),
      decimalData(acctbal, n),
      comment.finish(),
    ]);
  }
}

function* customerBatches(ctx: GenContext): Generator<arrow.RecordBatch> {
  const total = ctx.counts.customer;
  const rng = new Rng(ctx.seed, STREAM.customer);
  const text = new TextGen(ctx.text, rng);
  const prefix = ascii('Customer#');
  const segments = asciiList(SEGMENTS);
  for (let start = 0; start < total; start += CHUNK_ROWS) {
    const n = Math.min(CHUNK_ROWS, total - start);
    const key = new Int32Array(n);
    const nation = new Int32Array(n);
    const acctbal = new Uint32Array(2 * n);
    const name = new Utf8Builder(n, 18);
    const address = new Utf8Builder(n, LEN.address[1]);
    const phone = new Utf8Builder(n, 15);
    const segment = new Utf8Builder(n, 10);
    const comment = new Utf8Builder(n, LEN.c_comment[1]);
    for (let i = 0; i < n; i++) {
      const k = start + i + 1;
      key[i] = k;
      name.put(prefix).putInt(k, 9).end();
      putAddress(address, rng);
      address.end();
      const nk = rng.int(0, 24);
      nation[i] = nk;
      putPhone(phone, rng, nk);
      phone.end();
      setDecimal(acctbal, i, rng.int(-99_999, 999_999));
      segment.put(segments[rng.int(0, segments.length - 1)]!).end();
      text.put(comment, LEN.c_comment);
      comment.end();
    }
    yield makeBatch('customer', n, [
      int32Data(key, n),
      name.finish(),
      address.finish(),
      int32Data(nation, n),
      phone.finish(),
      decimalData(acctbal, n),
      segment.finish(),
      comment.finish(),
    ]);
  }
}

/** p_retailprice in cents (spec 4.2.3): (90000 + ((partkey/10) modulo 20001) + 100 * (partkey modulo 1000)). */
export function retailPriceCents(partkey: number): number {
  return 90_000 + (Math.floor(partkey / 10) % 20_001) + 100 * (partkey % 1000);
}

/** The supplier of the i-th (0..3) partsupp row of a part (spec 4.2.3). */
export function partSupplier(partkey: number, i: number, suppliers: number): number {
  return ((partkey + i * (Math.floor(suppliers / 4) + Math.floor((partkey - 1) / suppliers))) % suppliers) + 1;
}

function* partBatches(ctx: GenContext): Generator<arrow.RecordBatch> {
  const total = ctx.counts.part;
  const rng = new Rng(ctx.seed, STREAM.part);
  const text = new TextGen(ctx.text, rng);
  const colors = asciiList(COLORS);
  const types = asciiList(P_TYPES);
  const containers = asciiList(P_CONTAINERS);
  const mfgr = ascii('Manufacturer#');
  const brand = ascii('Brand#');
  const picked = new Int32Array(5);
  for (let start = 0; start < total; start += CHUNK_ROWS) {
    const n = Math.min(CHUNK_ROWS, total - start);
    const key = new Int32Array(n);
    const size = new Int32Array(n);
    const price = new Uint32Array(2 * n);
    const name = new Utf8Builder(n, 55);
    const mfgrB = new Utf8Builder(n, 14);
    const brandB = new Utf8Builder(n, 8);
    const typeB = new Utf8Builder(n, 25);
    const containerB = new Utf8Builder(n, 10);
    const comment = new Utf8Builder(n, LEN.p_comment[1]);
    for (let i = 0; i < n; i++) {
      const k = start + i + 1;
      key[i] = k;
      // p_name: 5 distinct words of the color list.
      for (let w = 0; w < 5; w++) {
        let c: number;
        let dup: boolean;
        do {
          c = rng.int(0, colors.length - 1);
          dup = false;
          for (let j = 0; j < w; j++) if (picked[j] === c) dup = true;
        } while (dup);
        picked[w] = c;
        if (w > 0) name.putByte(32);
        name.put(colors[c]!);
      }
      name.end();
      const m = rng.int(1, 5);
      mfgrB.put(mfgr).putInt(m, 1).end();
      brandB.put(brand).putInt(m, 1).putInt(rng.int(1, 5), 1).end();
      typeB.put(types[rng.int(0, types.length - 1)]!).end();
      size[i] = rng.int(1, 50);
      containerB.put(containers[rng.int(0, containers.length - 1)]!).end();
      setDecimal(price, i, retailPriceCents(k));
      text.put(comment, LEN.p_comment);
      comment.end();
    }
    yield makeBatch('part', n, [
      int32Data(key, n),
      name.finish(),
      mfgrB.finish(),
      brandB.finish(),
      typeB.finish(),
      int32Data(size, n),
      containerB.finish(),
      decimalData(price, n),
      comment.finish(),
    ]);
  }
}

function* partsuppBatches(ctx: GenContext): Generator<arrow.RecordBatch> {
  const parts = ctx.counts.part;
  const suppliers = ctx.counts.supplier;
  const rng = new Rng(ctx.seed, STREAM.partsupp);
  const text = new TextGen(ctx.text, rng);
  const partsPerChunk = CHUNK_ROWS / 4;
  for (let startPart = 0; startPart < parts; startPart += partsPerChunk) {
    const np = Math.min(partsPerChunk, parts - startPart);
    const n = np * 4;
    const partkey = new Int32Array(n);
    const suppkey = new Int32Array(n);
    const availqty = new Int32Array(n);
    const cost = new Uint32Array(2 * n);
    const comment = new Utf8Builder(n, LEN.ps_comment[1]);
    let r = 0;
    for (let p = 0; p < np; p++) {
      const pk = startPart + p + 1;
      for (let s = 0; s < 4; s++, r++) {
        partkey[r] = pk;
        suppkey[r] = partSupplier(pk, s, suppliers);
        availqty[r] = rng.int(1, 9999);
        setDecimal(cost, r, rng.int(100, 100_000));
        text.put(comment, LEN.ps_comment);
        comment.end();
      }
    }
    yield makeBatch('partsupp', n, [int32Data(partkey, n), int32Data(suppkey, n), int32Data(availqty, n), decimalData(cost, n), comment.finish()]);
  }
}

/** The order key of the i-th order (1-based): of every 32 keys only the first 8 are used, as dbgen does. */
export function sparseOrderKey(i: number): number {
  return Math.floor(i / 8) * 32 + (i % 8);
}

interface OrderChunk {
  orders: arrow.RecordBatch;
  lineitem: arrow.RecordBatch;
}

/** Orders and their lineitems are generated together: o_totalprice and o_orderstatus derive from the lines. */
function* orderLineitemBatches(ctx: GenContext): Generator<OrderChunk> {
  const { orders: total, customer: customers, part: parts, supplier: suppliers, clerks } = ctx.counts;
  const rng = new Rng(ctx.seed, STREAM.orders);
  const text = new TextGen(ctx.text, rng);
  // Only customers whose key is not a multiple of 3 place orders (spec 4.2.3, O_CUSTKEY).
  const activeCustomers = customers - Math.floor(customers / 3);
  const priorities = asciiList(PRIORITIES);
  const instructs = asciiList(SHIPINSTRUCT);
  const modes = asciiList(SHIPMODES);
  const clerk = ascii('Clerk#');
  const ordersPerChunk = CHUNK_ROWS / 4;
  const S4 = Math.floor(suppliers / 4);
  for (let start = 0; start < total; start += ordersPerChunk) {
    const n = Math.min(ordersPerChunk, total - start);
    const oKey = new Uint32Array(2 * n);
    const oCust = new Int32Array(n);
    const oTotal = new Uint32Array(2 * n);
    const oDate = new Int32Array(n);
    const oShipPrio = new Int32Array(n);
    const oStatus = new Utf8Builder(n, 1);
    const oPrio = new Utf8Builder(n, 15);
    const oClerk = new Utf8Builder(n, 15);
    const oComment = new Utf8Builder(n, LEN.o_comment[1]);
    const m = 7 * n;
    const lKey = new Uint32Array(2 * m);
    const lPart = new Int32Array(m);
    const lSupp = new Int32Array(m);
    const lLine = new Int32Array(m);
    const lQty = new Uint32Array(2 * m);
    const lPrice = new Uint32Array(2 * m);
    const lDisc = new Uint32Array(2 * m);
    const lTax = new Uint32Array(2 * m);
    const lShip = new Int32Array(m);
    const lCommit = new Int32Array(m);
    const lReceipt = new Int32Array(m);
    const lFlag = new Utf8Builder(m, 1);
    const lStatus = new Utf8Builder(m, 1);
    const lInstruct = new Utf8Builder(m, 17);
    const lMode = new Utf8Builder(m, 7);
    const lComment = new Utf8Builder(m, LEN.l_comment[1]);
    let l = 0;
    for (let i = 0; i < n; i++) {
      const okey = sparseOrderKey(start + i + 1);
      setInt64(oKey, i, okey);
      const j = rng.int(0, activeCustomers - 1);
      oCust[i] = Math.floor(j / 2) * 3 + (j % 2) + 1;
      const odate = rng.int(STARTDATE, LAST_ORDERDATE);
      oDate[i] = odate;
      oPrio.put(priorities[rng.int(0, 4)]!).end();
      oClerk.put(clerk).putInt(rng.int(1, clerks), 9).end();
      oShipPrio[i] = 0;
      text.put(oComment, LEN.o_comment);
      oComment.end();
      const lines = rng.int(1, 7);
      let totalCents = 0;
      let shippedLines = 0;
      for (let ln = 1; ln <= lines; ln++, l++) {
        setInt64(lKey, l, okey);
        const pk = rng.int(1, parts);
        lPart[l] = pk;
        lSupp[l] = ((pk + rng.int(0, 3) * (S4 + Math.floor((pk - 1) / suppliers))) % suppliers) + 1;
        lLine[l] = ln;
        const qty = rng.int(1, 50);
        const disc = rng.int(0, 10);
        const tax = rng.int(0, 8);
        const ext = qty * retailPriceCents(pk);
        setDecimal(lQty, l, qty * 100);
        setDecimal(lPrice, l, ext);
        setDecimal(lDisc, l, disc);
        setDecimal(lTax, l, tax);
        totalCents += Math.round((ext * (100 - disc) * (100 + tax)) / 10_000);
        const ship = odate + rng.int(1, 121);
        const receipt = ship + rng.int(1, 30);
        lShip[l] = ship;
        lCommit[l] = odate + rng.int(30, 90);
        lReceipt[l] = receipt;
        lFlag.putByte(receipt <= CURRENTDATE ? (rng.int(0, 1) === 0 ? 82 /* R */ : 65 /* A */) : 78 /* N */).end();
        if (ship > CURRENTDATE) lStatus.putByte(79 /* O */);
        else {
          lStatus.putByte(70 /* F */);
          shippedLines++;
        }
        lStatus.end();
        lInstruct.put(instructs[rng.int(0, 3)]!).end();
        lMode.put(modes[rng.int(0, 6)]!).end();
        text.put(lComment, LEN.l_comment);
        lComment.end();
      }
      setDecimal(oTotal, i, totalCents);
      oStatus.putByte(shippedLines === lines ? 70 /* F */ : shippedLines === 0 ? 79 /* O */ : 80 /* P */).end();
    }
    yield {
      orders: makeBatch('orders', n, [
        int64Data(oKey, n),
        int32Data(oCust, n),
        oStatus.finish(),
        decimalData(oTotal, n),
        dateData(oDate, n),
        oPrio.finish(),
        oClerk.finish(),
        int32Data(oShipPrio, n),
        oComment.finish(),
      ]),
      lineitem: makeBatch('lineitem', l, [
        int64Data(lKey, l),
        int32Data(lPart, l),
        int32Data(lSupp, l),
        int32Data(lLine, l),
        decimalData(lQty, l),
        decimalData(lPrice, l),
        decimalData(lDisc, l),
        decimalData(lTax, l),
        lFlag.finish(),
        lStatus.finish(),
        dateData(lShip, l),
        dateData(lCommit, l),
        dateData(lReceipt, l),
        lInstruct.finish(),
        lMode.finish(),
        lComment.finish(),
      ]),
    };
  }
}

// ---------------------------------------------------------------------------------------------------------
// Streaming Parquet writer: Arrow JS batches → IPC → parquet-wasm RecordBatch → transformParquetStream → file.

export type TpchCompression = 'snappy' | 'zstd' | 'none';

const COMPRESSION: Record<TpchCompression, pw.Compression> = {
  snappy: pw.Compression.SNAPPY,
  zstd: pw.Compression.ZSTD,
  none: pw.Compression.UNCOMPRESSED,
};

class ParquetFileWriter {
  private controller!: ReadableStreamDefaultController<pw.RecordBatch>;
  private pullWaiter: (() => void) | null = null;
  private readonly done: Promise<void>;
  private failed: unknown = null;
  rows = 0;

  constructor(
    readonly path: string,
    compression: TpchCompression,
    rowGroupSize: number,
  ) {
    const source = new ReadableStream<pw.RecordBatch>(
      {
        start: (c) => {
          this.controller = c;
        },
        pull: () => {
          const w = this.pullWaiter;
          this.pullWaiter = null;
          w?.();
        },
      },
      { highWaterMark: 1 },
    );
    const props = new pw.WriterPropertiesBuilder()
      .setCompression(COMPRESSION[compression])
      .setMaxRowGroupSize(rowGroupSize)
      .setCreatedBy('squall tpch generator (parquet-wasm)')
      .build();
    this.done = pw
      .transformParquetStream(source, props)
      .then((bytes) => bytes.pipeTo(Writable.toWeb(createWriteStream(path)) as WritableStream<Uint8Array>));
    this.done.catch((e: unknown) => {
      this.failed = e ?? new Error('parquet writer failed');
      const w = this.pullWaiter;
      this.pullWaiter = null;
      w?.();
    });
  }

  async write(batch: arrow.RecordBatch): Promise<void> {
    if (this.failed) throw this.failed;
    const ipc = arrow.tableToIPC(new arrow.Table([batch]), 'stream');
    const wasmTable = pw.Table.fromIPCStream(ipc);
    const wasmBatch = wasmTable.recordBatch(0);
    wasmTable.free();
    if (!wasmBatch) throw new Error('internal: IPC round trip lost the record batch');
    this.controller.enqueue(wasmBatch);
    this.rows += batch.numRows;
    // Backpressure: wait until the Parquet writer asks for more before producing the next chunk.
    while ((this.controller.desiredSize ?? 0) <= 0 && !this.failed) {
      await new Promise<void>((res) => (this.pullWaiter = res));
    }
    if (this.failed) throw this.failed;
  }

  async close(): Promise<void> {
    this.controller.close();
    await this.done;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Driver, manifest and API

export interface GenerateTpchOptions<T extends TpchTableName = TpchTableName> {
  scaleFactor: number;
  outDir: string;
  /** Parquet compression codec; default snappy. */
  compression?: TpchCompression;
  /** Tables to generate; default all 8. */
  tables?: readonly T[];
  /** PRNG seed; default 1. The same seed (and scale factor, compression) gives byte-identical files. */
  seed?: number;
  /** Max rows per Parquet row group; default 122,880 (as DuckDB). */
  rowGroupSize?: number;
  /** Regenerate even if the manifest says the file exists with the same parameters. */
  force?: boolean;
  /** Progress messages (per table: rows, bytes, seconds). */
  log?: (message: string) => void;
}

export interface GeneratedTable {
  /** Path of the Parquet file (outDir joined with the file name). */
  path: string;
  rows: number;
  bytes: number;
  /** True if the file already existed with the same parameters and was not rewritten. */
  skipped: boolean;
  /** Seconds spent generating this table (for orders + lineitem, which are generated together, the shared time). */
  seconds: number;
}

export const MANIFEST_FILE = 'manifest.json';
const GENERATOR_ID = 'squall-tpch';
/** Bump when the generated data changes, so old outputs are regenerated. */
const GENERATOR_VERSION = 1;

export interface TpchManifest {
  generator: string;
  version: number;
  scaleFactor: number;
  seed: number;
  compression: TpchCompression;
  rowGroupSize: number;
  tables: Partial<Record<TpchTableName, { file: string; rows: number; bytes: number }>>;
}

async function readManifest(outDir: string): Promise<TpchManifest | null> {
  try {
    return JSON.parse(await readFile(join(outDir, MANIFEST_FILE), 'utf8')) as TpchManifest;
  } catch {
    return null;
  }
}

async function fileSize(path: string): Promise<number | null> {
  try {
    return (await stat(path)).size;
  } catch {
    return null;
  }
}

type GenSpec = { tables: TpchTableName[]; run: (ctx: GenContext) => Iterable<Partial<Record<TpchTableName, arrow.RecordBatch>>> };

const wrap =
  (t: TpchTableName, gen: (ctx: GenContext) => Iterable<arrow.RecordBatch>) =>
  (ctx: GenContext): Iterable<Partial<Record<TpchTableName, arrow.RecordBatch>>> => ({
    *[Symbol.iterator]() {
      for (const b of gen(ctx)) yield { [t]: b };
    },
  });

const GENERATORS: GenSpec[] = [
  { tables: ['region'], run: wrap('region', regionBatches) },
  { tables: ['nation'], run: wrap('nation', nationBatches) },
  { tables: ['supplier'], run: wrap('supplier', supplierBatches) },
  { tables: ['customer'], run: wrap('customer', customerBatches) },
  { tables: ['part'], run: wrap('part', partBatches) },
  { tables: ['partsupp'], run: wrap('partsupp', partsuppBatches) },
  { tables: ['orders', 'lineitem'], run: (ctx) => orderLineitemBatches(ctx) },
];

/**
 * Generates TPC-H tables as `<outDir>/<table>.parquet`. Tables already present with the same parameters
 * (per `<outDir>/manifest.json`) are skipped unless `force` is set.
 */
export async function generateTpch<T extends TpchTableName = TpchTableName>(
  options: GenerateTpchOptions<T>,
): Promise<Record<T, GeneratedTable>> {
  const { scaleFactor, outDir } = options;
  const compression = options.compression ?? 'snappy';
  const seed = options.seed ?? 1;
  const rowGroupSize = options.rowGroupSize ?? DEFAULT_ROW_GROUP_SIZE;
  const log = options.log ?? (() => {});
  if (!(Number.isFinite(scaleFactor) && scaleFactor > 0)) throw new RangeError(`scaleFactor must be a positive number, got ${scaleFactor}`);
  if (tpchCounts(scaleFactor).supplier < 4 || tpchCounts(scaleFactor).customer < 3) {
    throw new RangeError(`scaleFactor ${scaleFactor} is too small: need at least 4 suppliers (scale factor >= 0.0004)`);
  }
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new RangeError(`seed must be a uint32, got ${seed}`);
  if (!(compression in COMPRESSION)) throw new RangeError(`compression must be snappy, zstd or none, got ${compression}`);
  if (!Number.isInteger(rowGroupSize) || rowGroupSize < 1) throw new RangeError(`rowGroupSize must be a positive integer`);
  const wanted = new Set<TpchTableName>(options.tables ?? TPCH_TABLES);
  for (const t of wanted) if (!TPCH_TABLES.includes(t)) throw new RangeError(`unknown TPC-H table '${t}'`);

  await mkdir(outDir, { recursive: true });
  const params = { generator: GENERATOR_ID, version: GENERATOR_VERSION, scaleFactor, seed, compression, rowGroupSize };
  const old = await readManifest(outDir);
  const sameParams =
    old !== null && (Object.keys(params) as (keyof typeof params)[]).every((k) => old[k] === params[k]) && old.tables !== undefined;
  const manifest: TpchManifest = { ...params, tables: {} };
  if (sameParams) {
    // Keep entries whose files are still there, whole.
    for (const t of TPCH_TABLES) {
      const e = old.tables[t];
      if (e && (await fileSize(join(outDir, e.file))) === e.bytes) manifest.tables[t] = e;
    }
  } else if (old?.tables) {
    // Parameters changed: files from the old run no longer match the manifest; remove them.
    for (const e of Object.values(old.tables)) if (e) await rm(join(outDir, e.file), { force: true });
  }
  const saveManifest = () => writeFile(join(outDir, MANIFEST_FILE), JSON.stringify(manifest, null, 2) + '\n');
  await saveManifest();

  const result: Partial<Record<TpchTableName, GeneratedTable>> = {};
  let text: Uint8Array | null = null;
  const counts = tpchCounts(scaleFactor);

  for (const spec of GENERATORS) {
    const toWrite = spec.tables.filter((t) => wanted.has(t) && (options.force || !manifest.tables[t]));
    for (const t of spec.tables) {
      const e = manifest.tables[t];
      if (wanted.has(t) && !toWrite.includes(t) && e) {
        result[t] = { path: join(outDir, e.file), rows: e.rows, bytes: e.bytes, skipped: true, seconds: 0 };
        log(`${t}: exists (${e.rows} rows, ${e.bytes} bytes), skipped`);
      }
    }
    if (toWrite.length === 0) continue;
    const t0 = performance.now();
    text ??= buildTextPool(seed);
    const ctx: GenContext = { seed, scaleFactor, counts, text };
    const writers = new Map<TpchTableName, ParquetFileWriter>();
    for (const t of toWrite) {
      const path = join(outDir, `${t}.parquet`);
      delete manifest.tables[t];
      writers.set(t, new ParquetFileWriter(`${path}.tmp`, compression, rowGroupSize));
    }
    try {
      for (const chunk of spec.run(ctx)) {
        for (const [t, w] of writers) {
          const b = chunk[t];
          if (b) await w.write(b);
        }
      }
      for (const w of writers.values()) await w.close();
    } catch (e) {
      for (const w of writers.values()) await rm(w.path, { force: true });
      throw e;
    }
    const seconds = (performance.now() - t0) / 1000;
    for (const [t, w] of writers) {
      const file = `${t}.parquet`;
      const path = join(outDir, file);
      await rename(w.path, path);
      const bytes = (await fileSize(path)) ?? 0;
      manifest.tables[t] = { file, rows: w.rows, bytes };
      result[t] = { path, rows: w.rows, bytes, skipped: false, seconds };
      log(`${t}: ${w.rows} rows, ${(bytes / 1048576).toFixed(1)} MiB, ${seconds.toFixed(1)} s`);
    }
    await saveManifest();
  }
  return result as Record<T, GeneratedTable>;
}

// ---------------------------------------------------------------------------------------------------------
// CLI

function parseArgs(argv: string[]): Record<string, string | true> {
  const out: Record<string, string | true> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) throw new Error(`unexpected argument '${a}'`);
    const [k, v] = a.slice(2).split('=', 2) as [string, string | undefined];
    if (v !== undefined) out[k] = v;
    else if (i + 1 < argv.length && !argv[i + 1]!.startsWith('--')) out[k] = argv[++i]!;
    else out[k] = true;
  }
  return out;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.help || args.h) {
    console.log('usage: npx tsx bench/tpch/generate.ts --sf 1 --out bench/.data/tpch-sf1 [--compression snappy|zstd|none] [--tables a,b] [--seed N] [--force]');
    return;
  }
  const sf = Number(args.sf ?? 1);
  const outDir = resolve(typeof args.out === 'string' ? args.out : `bench/.data/tpch-sf${sf}`);
  const tables = typeof args.tables === 'string' ? (args.tables.split(',').map((s) => s.trim()) as TpchTableName[]) : undefined;
  const t0 = performance.now();
  const res = await generateTpch({
    scaleFactor: sf,
    outDir,
    compression: typeof args.compression === 'string' ? (args.compression as TpchCompression) : undefined,
    seed: typeof args.seed === 'string' ? Number(args.seed) : undefined,
    tables,
    force: args.force === true,
    log: (m) => console.log(m),
  });
  const total = Object.values<GeneratedTable>(res).reduce((s, r) => s + r.bytes, 0);
  console.log(`TPC-H SF${sf} in ${outDir}: ${(total / 1048576).toFixed(1)} MiB, ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main().catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
}
