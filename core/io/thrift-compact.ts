// A minimal reader for Thrift's compact protocol, enough to decode a Parquet footer (FileMetaData) into plain
// objects keyed by field id. parquet-wasm does not expose column statistics, which row-group pruning needs.

export type ThriftValue = boolean | number | bigint | Uint8Array | ThriftStruct | ThriftValue[] | Map<ThriftValue, ThriftValue>;
export type ThriftStruct = { [fieldId: number]: ThriftValue };

const T_STOP = 0;
const T_TRUE = 1;
const T_FALSE = 2;
const T_BYTE = 3;
const T_I16 = 4;
const T_I32 = 5;
const T_I64 = 6;
const T_DOUBLE = 7;
const T_BINARY = 8;
const T_LIST = 9;
const T_SET = 10;
const T_MAP = 11;
const T_STRUCT = 12;

export class ThriftReader {
  pos = 0;
  private readonly view: DataView;

  constructor(private readonly buf: Uint8Array) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  private byte(): number {
    if (this.pos >= this.buf.length) throw new RangeError('thrift: unexpected end of data');
    return this.buf[this.pos++]!;
  }

  private varint(): number {
    let result = 0;
    let mul = 1;
    for (;;) {
      const b = this.byte();
      result += (b & 0x7f) * mul;
      if ((b & 0x80) === 0) return result;
      mul *= 128;
      if (mul > 2 ** 70) throw new RangeError('thrift: varint too long');
    }
  }

  private varbig(): bigint {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      const b = this.byte();
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result;
      shift += 7n;
      if (shift > 70n) throw new RangeError('thrift: varint too long');
    }
  }

  private zigzag(): number {
    const v = this.varint();
    // Division instead of >>> keeps values above 2³¹ (i64 fields) intact.
    return v % 2 === 0 ? v / 2 : -(v + 1) / 2;
  }

  private i64(): number | bigint {
    const v = this.varbig();
    const s = (v & 1n) === 0n ? v >> 1n : -((v + 1n) >> 1n);
    return s >= BigInt(Number.MIN_SAFE_INTEGER) && s <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(s) : s;
  }

  private binary(): Uint8Array {
    const len = this.varint();
    if (this.pos + len > this.buf.length) throw new RangeError('thrift: binary runs past the end of data');
    const out = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return out;
  }

  private value(type: number): ThriftValue {
    switch (type) {
      case T_TRUE:
        return true;
      case T_FALSE:
        return false;
      case T_BYTE: {
        const b = this.byte();
        return b > 127 ? b - 256 : b;
      }
      case T_I16:
      case T_I32:
        return this.zigzag();
      case T_I64:
        return this.i64();
      case T_DOUBLE: {
        const v = this.view.getFloat64(this.pos, true);
        this.pos += 8;
        return v;
      }
      case T_BINARY:
        return this.binary();
      case T_LIST:
      case T_SET: {
        const h = this.byte();
        let size = h >> 4;
        const et = h & 0x0f;
        if (size === 15) size = this.varint();
        const out: ThriftValue[] = [];
        for (let i = 0; i < size; i++) {
          // Booleans inside collections are one byte each (1 = true).
          if (et === T_TRUE || et === T_FALSE) out.push(this.byte() === 1);
          else out.push(this.value(et));
        }
        return out;
      }
      case T_MAP: {
        const size = this.varint();
        const out = new Map<ThriftValue, ThriftValue>();
        if (size === 0) return out;
        const kv = this.byte();
        for (let i = 0; i < size; i++) out.set(this.value(kv >> 4), this.value(kv & 0x0f));
        return out;
      }
      case T_STRUCT:
        return this.struct();
      default:
        throw new RangeError(`thrift: unknown type ${type}`);
    }
  }

  struct(): ThriftStruct {
    const out: ThriftStruct = {};
    let last = 0;
    for (;;) {
      const h = this.byte();
      const type = h & 0x0f;
      if (type === T_STOP) return out;
      const delta = h >> 4;
      const id = delta === 0 ? this.zigzag() : last + delta;
      last = id;
      out[id] = this.value(type);
    }
  }
}
