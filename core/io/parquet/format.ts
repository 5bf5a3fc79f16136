// The parts of a Parquet footer (FileMetaData, Thrift compact) that the decoder needs, as typed objects: flat
// leaf columns with their physical and logical types, and per row group the byte ranges of the column chunks.
import type { DataType } from '../../types/data-type.ts';
import { DataTypes } from '../../types/data-type.ts';
import { type ThriftStruct, type ThriftValue } from '../thrift-compact.ts';

export const Physical = { BOOLEAN: 0, INT32: 1, INT64: 2, INT96: 3, FLOAT: 4, DOUBLE: 5, BYTE_ARRAY: 6, FIXED_LEN_BYTE_ARRAY: 7 } as const;
export const Encoding = {
  PLAIN: 0,
  PLAIN_DICTIONARY: 2,
  RLE: 3,
  BIT_PACKED: 4,
  DELTA_BINARY_PACKED: 5,
  DELTA_LENGTH_BYTE_ARRAY: 6,
  DELTA_BYTE_ARRAY: 7,
  RLE_DICTIONARY: 8,
  BYTE_STREAM_SPLIT: 9,
} as const;
export const Codec = { UNCOMPRESSED: 0, SNAPPY: 1, GZIP: 2, LZO: 3, BROTLI: 4, LZ4: 5, ZSTD: 6, LZ4_RAW: 7 } as const;
export const PageType = { DATA_PAGE: 0, INDEX_PAGE: 1, DICTIONARY_PAGE: 2, DATA_PAGE_V2: 3 } as const;

/**
 * How the decoder turns a leaf's physical values into the Arrow layout of its Squall type:
 *  - i32 / i64: 4 or 8 byte little-endian values kept as they are (int32, date32, uint32, float32 bits;
 *    int64, uint64, timestamps in any unit, float64 bits); a final normalize step widens or rescales;
 *  - i32dec / i64dec: decimals as Decimal64 (two 32-bit words per value); bytesdec: as Decimal128 (four words);
 *  - f16: half floats to float64; bool: a bitmap; str: Utf8 bytes (dictionary pages stay a dictionary).
 */
export type ValueKind = 'bool' | 'i32' | 'i64' | 'i32dec' | 'i64dec' | 'bytesdec' | 'f16' | 'str';

/** The Arrow layout the decoder produces before normalizing to the Squall type. */
export type NaturalType =
  | { kind: 'bool' }
  | { kind: 'int'; bits: 32 | 64; signed: boolean }
  | { kind: 'float'; bits: 32 | 64 }
  | { kind: 'date32' }
  | { kind: 'timestamp'; unit: 'ms' | 'us' | 'ns' }
  | { kind: 'decimal'; precision: number; scale: number }
  | { kind: 'utf8' };

export interface LeafColumn {
  readonly name: string;
  /** Index among the file's leaves (the position of its chunk in each row group). */
  readonly index: number;
  readonly physical: number;
  readonly typeLength: number;
  /** Top-level, not repeated: the only shape the decoder reads (others go through parquet-wasm). */
  readonly flat: boolean;
  readonly maxDef: number;
  readonly converted?: number;
  readonly logical?: ThriftStruct;
  readonly precision?: number;
  readonly scale?: number;
}

export interface ChunkMeta {
  readonly codec: number;
  readonly numValues: number;
  /** Byte range of the whole chunk (dictionary page first when there is one). */
  readonly start: number;
  readonly length: number;
  readonly totalUncompressedSize: number;
  readonly statistics?: ThriftStruct;
  readonly offsetIndex?: { readonly offset: number; readonly length: number };
  readonly columnIndex?: { readonly offset: number; readonly length: number };
}

export interface RowGroupMeta {
  readonly numRows: number;
  /** One per leaf, in leaf order. */
  readonly chunks: readonly ChunkMeta[];
}

export interface FileMeta {
  readonly numRows: number;
  /** Names of the top-level fields, leaves or groups, in schema order. */
  readonly topLevel: readonly string[];
  readonly leaves: readonly LeafColumn[];
  readonly rowGroups: readonly RowGroupMeta[];
  readonly createdBy?: string;
}

const utf8 = new TextDecoder('utf-8', { fatal: false });

export function asNumber(v: ThriftValue | undefined): number {
  return typeof v === 'bigint' ? Number(v) : typeof v === 'number' ? v : 0;
}

/** The typed view of a decoded FileMetaData struct. */
export function fileMeta(fm: ThriftStruct): FileMeta {
  const elements = (fm[2] as ThriftStruct[] | undefined) ?? [];
  const leaves: LeafColumn[] = [];
  const topLevel: string[] = [];
  let i = 1;
  const walk = (depth: number, count: number, parentDef: number, parentRepeated: boolean, prefix: string) => {
    for (let k = 0; k < count && i < elements.length; k++) {
      const el = elements[i++]!;
      const name = utf8.decode(el[4] as Uint8Array);
      const repetition = (el[3] as number | undefined) ?? 0; // 0 required, 1 optional, 2 repeated
      const def = parentDef + (repetition === 0 ? 0 : 1);
      const repeated = parentRepeated || repetition === 2;
      const children = asNumber(el[5]);
      const path = prefix ? `${prefix}.${name}` : name;
      if (depth === 0) topLevel.push(name);
      if (children > 0) {
        walk(depth + 1, children, def, repeated, path);
        continue;
      }
      const logical = el[10] as ThriftStruct | undefined;
      leaves.push({
        name: path,
        index: leaves.length,
        physical: (el[1] as number | undefined) ?? -1,
        typeLength: asNumber(el[2]),
        flat: depth === 0 && !repeated,
        maxDef: def,
        ...(el[6] !== undefined ? { converted: el[6] as number } : {}),
        ...(logical ? { logical } : {}),
        ...(el[8] !== undefined ? { precision: el[8] as number } : {}),
        ...(el[7] !== undefined ? { scale: el[7] as number } : {}),
      });
    }
  };
  walk(0, asNumber(elements[0]?.[5]), 0, false, '');
  const rowGroups: RowGroupMeta[] = ((fm[4] as ThriftStruct[] | undefined) ?? []).map((rg) => {
    const chunks = ((rg[1] as ThriftStruct[] | undefined) ?? []).map((c): ChunkMeta => {
      const md = (c[3] as ThriftStruct | undefined) ?? {};
      const dataOffset = asNumber(md[9]);
      const dictOffset = md[11] === undefined ? undefined : asNumber(md[11]);
      // Some writers record a dictionary offset of 0 for chunks without one; only an offset before the first
      // data page can be a dictionary page.
      const start = dictOffset !== undefined && dictOffset > 0 && dictOffset < dataOffset ? dictOffset : dataOffset;
      const oi = c[4] !== undefined && c[5] !== undefined ? { offset: asNumber(c[4]), length: asNumber(c[5]) } : undefined;
      const ci = c[6] !== undefined && c[7] !== undefined ? { offset: asNumber(c[6]), length: asNumber(c[7]) } : undefined;
      return {
        codec: asNumber(md[4]),
        numValues: asNumber(md[5]),
        start,
        length: asNumber(md[7]),
        totalUncompressedSize: asNumber(md[6]),
        ...(md[12] ? { statistics: md[12] as ThriftStruct } : {}),
        ...(oi ? { offsetIndex: oi } : {}),
        ...(ci ? { columnIndex: ci } : {}),
      };
    });
    return { numRows: asNumber(rg[3]), chunks };
  });
  const createdBy = fm[6] instanceof Uint8Array ? utf8.decode(fm[6]) : undefined;
  return { numRows: asNumber(fm[3]), topLevel, leaves, rowGroups, ...(createdBy !== undefined ? { createdBy } : {}) };
}

/** What the decoder does with a leaf: its Squall type, the decoder's value kind and the layout it produces. */
export interface LeafPlan {
  readonly type: DataType;
  readonly kind: ValueKind;
  readonly natural: NaturalType;
}

/**
 * How the decoder reads a leaf, or undefined when it cannot (nested or repeated fields, INT96, intervals,
 * times, binary without a string annotation...): such columns are read by parquet-wasm instead. The Squall
 * type is the one parquet-wasm's Arrow schema maps to (checked by the tests on files from several writers).
 */
export function leafPlan(leaf: LeafColumn): LeafPlan | undefined {
  if (!leaf.flat || leaf.maxDef > 1) return undefined;
  const c = leaf.converted;
  const lg = leaf.logical;
  // Logical types the decoder does not read: time, interval-like, null, bson, uuid, map/list annotations.
  if (lg && (lg[2] || lg[3] || lg[7] || lg[9] || lg[11] || lg[13] || lg[14])) return undefined;
  if (c !== undefined && [1, 2, 3, 7, 8, 20, 21].includes(c)) return undefined;
  const lgDec = lg?.[5] as ThriftStruct | undefined;
  const decimal =
    lgDec !== undefined
      ? { precision: asNumber(lgDec[2]), scale: asNumber(lgDec[1]) }
      : c === 5
        ? { precision: leaf.precision ?? 0, scale: leaf.scale ?? 0 }
        : undefined;
  if (decimal && (decimal.precision < 1 || decimal.scale < 0 || decimal.scale > decimal.precision)) return undefined;
  const decType = (p: { precision: number; scale: number }): DataType => (p.precision > 18 ? DataTypes.float64 : DataTypes.decimal(p.precision, p.scale));
  const lgInt = lg?.[10] as ThriftStruct | undefined;
  const intBits = lgInt ? asNumber(lgInt[1]) : c === 15 || c === 11 ? 8 : c === 16 || c === 12 ? 16 : c === 17 || c === 13 ? 32 : c === 18 || c === 14 ? 64 : undefined;
  const unsigned = lgInt ? lgInt[2] === false : c !== undefined && c >= 11 && c <= 14;
  switch (leaf.physical) {
    case Physical.BOOLEAN:
      return lg || c !== undefined ? undefined : { type: DataTypes.bool, kind: 'bool', natural: { kind: 'bool' } };
    case Physical.INT32: {
      if (decimal) return { type: decType(decimal), kind: 'i32dec', natural: { kind: 'decimal', ...decimal } };
      if (lg?.[6] || c === 6) return { type: DataTypes.date32, kind: 'i32', natural: { kind: 'date32' } };
      if (lg?.[8] || c === 9 || c === 10) return undefined;
      if (intBits !== undefined && intBits > 32) return undefined;
      if (unsigned && (intBits ?? 32) === 32) return { type: DataTypes.int64, kind: 'i32', natural: { kind: 'int', bits: 32, signed: false } };
      if ((lg && !lgInt) || (c !== undefined && intBits === undefined)) return undefined;
      return { type: DataTypes.int32, kind: 'i32', natural: { kind: 'int', bits: 32, signed: true } };
    }
    case Physical.INT64: {
      if (decimal) return decimal.precision > 18 ? undefined : { type: decType(decimal), kind: 'i64dec', natural: { kind: 'decimal', ...decimal } };
      const ts = lg?.[8] as ThriftStruct | undefined;
      if (ts) {
        const unit = ts[2] as ThriftStruct | undefined;
        const u = unit?.[1] ? 'ms' : unit?.[2] ? 'us' : unit?.[3] ? 'ns' : undefined;
        return u ? { type: DataTypes.timestamp, kind: 'i64', natural: { kind: 'timestamp', unit: u } } : undefined;
      }
      if (c === 9 || c === 10) return { type: DataTypes.timestamp, kind: 'i64', natural: { kind: 'timestamp', unit: c === 9 ? 'ms' : 'us' } };
      if (intBits !== undefined && intBits !== 64) return undefined;
      if ((lg && !lgInt) || (c !== undefined && intBits === undefined)) return undefined;
      return { type: DataTypes.int64, kind: 'i64', natural: { kind: 'int', bits: 64, signed: !unsigned } };
    }
    case Physical.FLOAT:
      return lg || c !== undefined ? undefined : { type: DataTypes.float64, kind: 'i32', natural: { kind: 'float', bits: 32 } };
    case Physical.DOUBLE:
      return lg || c !== undefined ? undefined : { type: DataTypes.float64, kind: 'i64', natural: { kind: 'float', bits: 64 } };
    case Physical.BYTE_ARRAY:
    case Physical.FIXED_LEN_BYTE_ARRAY: {
      const flba = leaf.physical === Physical.FIXED_LEN_BYTE_ARRAY;
      if (decimal) {
        if (flba && (leaf.typeLength < 1 || leaf.typeLength > 16)) return undefined;
        if (decimal.precision > 38) return undefined;
        return { type: decType(decimal), kind: 'bytesdec', natural: { kind: 'decimal', ...decimal } };
      }
      if (flba) return lg?.[15] && leaf.typeLength === 2 ? { type: DataTypes.float64, kind: 'f16', natural: { kind: 'float', bits: 64 } } : undefined;
      // ENUM stays binary in Arrow (and so is not a Squall type); STRING and JSON are Utf8.
      const isString = lg ? lg[1] || lg[12] : c === 0 || c === 19;
      return isString ? { type: DataTypes.utf8, kind: 'str', natural: { kind: 'utf8' } } : undefined;
    }
    default:
      return undefined;
  }
}
