// The Parquet decoder (core/io/parquet/) against files from two writers — DuckDB and parquet-wasm (arrow-rs) —
// with every codec, data page v1 and v2, PLAIN / dictionary / RLE / delta / byte-stream-split encodings and
// nulls: every value must equal DuckDB's reading of the same file, on worker threads and in-thread alike.
import * as fs from 'node:fs';
import * as arrow from 'apache-arrow';
import { Compression, Encoding as WasmEncoding, ParquetFile, Table as WasmTable, WriterPropertiesBuilder, WriterVersion, writeParquet } from 'parquet-wasm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { coalesceRanges, readParquetSchema, scanParquet } from '../../core/io/parquet-reader.ts';
import { fileMeta } from '../../core/io/parquet/format.ts';
import { snappyDecompress } from '../../core/io/parquet/snappy.ts';
import { decodeRle, decodeDeltaBinaryPacked } from '../../core/io/parquet/encodings.ts';
import { ThriftReader, type ThriftStruct } from '../../core/io/thrift-compact.ts';
import { fromArrowSchema } from '../../core/types/arrow-types.ts';
import { DataError } from '../../core/types/errors.ts';
import { type Schema, schemaToString } from '../../core/types/schema.ts';
import { batchRows, canonicalSelect, collect, duck, duckRows, normalizeDuckRows, tempDir, writeDuckFiles } from './helpers.ts';

const DUCK_TYPES = `
SELECT
  CASE WHEN i % 7 = 0 THEN NULL ELSE (i % 100 - 50)::TINYINT END AS i8,
  (i * 3 - 1000)::SMALLINT AS i16,
  CASE WHEN i % 5 = 1 THEN NULL ELSE (i * 100003 - 200000000)::INTEGER END AS i32,
  CASE WHEN i % 7 = 2 THEN NULL ELSE i::BIGINT * 1000000000007 - 2000000000000000 END AS i64,
  (i % 250)::UTINYINT AS u8,
  (i::BIGINT * 800000)::UINTEGER AS u32,
  (i::UBIGINT * 3000000000000) AS u64,
  (i / 8.0 - 100)::FLOAT AS f32,
  CASE WHEN i % 7 = 3 THEN NULL ELSE i / 3.0 - 100 END::DOUBLE AS f64,
  ((i - 2500) / 100)::DECIMAL(5,2) AS dec_small,
  CASE WHEN i % 7 = 4 THEN NULL ELSE ((i - 2500) * 123456.789)::DECIMAL(18,3) END AS dec_mid,
  ((i % 40) - 20)::DECIMAL(15,2) AS dec_dict,
  CASE WHEN i % 9 = 0 THEN NULL ELSE ((i % 30) * 100)::DECIMAL(15,2) END AS dec_dict_pos,
  ((i % 30) * 1234567.89)::DECIMAL(18,2) AS dec_dict_wide,
  (i % 25)::BIGINT * 10000000000 - 50000000000 AS i64_dict,
  (i % 25)::BIGINT * 3 AS i64_dict_small,
  ((i - 2500) / 7)::DECIMAL(38,10) AS dec_wide,
  CASE WHEN i % 7 = 5 THEN NULL ELSE DATE '1965-03-01' + (i * 11)::INTEGER END AS dt,
  DATE '1992-01-01' + (i % 365)::INTEGER AS dt_dict,
  TIMESTAMP '1969-12-31 23:00:00' + INTERVAL (i * 1234567) MICROSECOND AS ts,
  (TIMESTAMP '2021-06-01' + INTERVAL (i * 7) MILLISECOND)::TIMESTAMP_MS AS ts_ms,
  make_timestamp_ns(1622505600123456789 + i * 1000000007) AS ts_ns,
  CASE WHEN i % 7 = 6 THEN NULL ELSE 'cat_' || (i % 5) END AS s_dict,
  CASE WHEN i % 11 = 0 THEN NULL WHEN i % 11 = 1 THEN '' ELSE md5(i::VARCHAR) || 'é✓' || repeat('x', i % 40) END AS s_plain,
  CASE WHEN i % 13 = 0 THEN NULL ELSE i % 3 = 0 END AS b,
  i % 2 = 0 AS b_req,
  NULL::INTEGER AS all_null
FROM range(0, 5000) t(i)`;

/** DuckDB settings: every codec in data page v1 and v2, and a file without dictionaries. */
const DUCK_FILES: Record<string, string> = {
  'duck_v1_snappy': 'COMPRESSION snappy',
  'duck_v1_zstd': 'COMPRESSION zstd',
  'duck_v1_gzip': 'COMPRESSION gzip',
  'duck_v1_none': 'COMPRESSION uncompressed',
  'duck_v2_snappy': 'COMPRESSION snappy, PARQUET_VERSION v2',
  'duck_v2_zstd': 'COMPRESSION zstd, PARQUET_VERSION v2',
  'duck_v2_gzip': 'COMPRESSION gzip, PARQUET_VERSION v2',
  'duck_v2_none': 'COMPRESSION uncompressed, PARQUET_VERSION v2',
  'duck_v2_lz4': 'COMPRESSION lz4, PARQUET_VERSION v2',
  'duck_v2_brotli': 'COMPRESSION brotli, PARQUET_VERSION v2',
  'duck_v1_nodict': 'COMPRESSION snappy, DICTIONARY_SIZE_LIMIT 1',
};

let dir: string;
let db: Awaited<ReturnType<typeof duck>>;
const files: string[] = [];

/** An Arrow table with the types arrow-rs writes for Squall (nulls in most columns). */
function wasmSourceTable(n: number): arrow.Table {
  const i32 = new Int32Array(n);
  const i64 = new BigInt64Array(n);
  const f64 = new Float64Array(n);
  const strs: (string | null)[] = [];
  const dict: (string | null)[] = [];
  const bools: (boolean | null)[] = [];
  const days = new Int32Array(n);
  const tsMs = new BigInt64Array(n);
  const f32 = new Float32Array(n);
  const i8 = new Int8Array(n);
  const u32 = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    i32[i] = i * 7919 - 50000;
    i64[i] = BigInt(i) * 1234567890123n - 9000000000000000n;
    f64[i] = i / 7 - 3;
    strs.push(i % 9 === 0 ? null : `value ${i % 97} ${'ü'.repeat(i % 5)}${i}`);
    dict.push(i % 6 === 0 ? null : `k${i % 12}`);
    bools.push(i % 10 === 0 ? null : i % 3 === 1);
    days[i] = -3000 + i * 3;
    tsMs[i] = BigInt(i) * 86400123n - 100000000n;
    f32[i] = i / 3;
    i8[i] = (i % 200) - 100;
    u32[i] = (i * 2654435761) >>> 0;
  }
  const withNulls = <T extends arrow.DataType>(v: arrow.Vector<T>, every: number): arrow.Vector<T> => {
    const d = v.data[0]!;
    const bitmap = new Uint8Array(((n + 63) >> 6) << 3);
    let nulls = 0;
    for (let i = 0; i < n; i++) {
      if (i % every === 4) nulls++;
      else bitmap[i >> 3]! |= 1 << (i & 7);
    }
    return arrow.makeVector(d.clone(d.type, 0, n, nulls, [d.valueOffsets, d.values, bitmap, d.typeIds] as never) as arrow.Data<T>);
  };
  return new arrow.Table({
    i32: withNulls(arrow.makeVector(i32), 5),
    i64: arrow.makeVector(i64),
    f64: withNulls(arrow.makeVector(f64), 8),
    f32: arrow.makeVector(f32),
    i8: arrow.makeVector(i8),
    u32: arrow.makeVector(u32),
    s: arrow.vectorFromArray(strs, new arrow.Utf8()),
    s_dict: arrow.vectorFromArray(dict, new arrow.Utf8()),
    b: arrow.vectorFromArray(bools, new arrow.Bool()),
    dt: arrow.makeVector(arrow.makeData({ type: new arrow.DateDay(), length: n, data: days })),
    ts_ms: arrow.makeVector(arrow.makeData({ type: new arrow.TimestampMillisecond(), length: n, data: tsMs })),
  });
}

/** parquet-wasm settings: v1/v2 pages, dictionaries on and off, delta and byte-stream-split encodings. */
function writeWasmFiles(): void {
  const table = wasmSourceTable(4000);
  const ipc = arrow.tableToIPC(table, 'stream');
  const variants: Record<string, (b: WriterPropertiesBuilder) => WriterPropertiesBuilder> = {
    wasm_v1_snappy: (b) => b.setCompression(Compression.SNAPPY),
    wasm_v2_zstd: (b) => b.setCompression(Compression.ZSTD).setWriterVersion(WriterVersion.V2),
    wasm_v2_plain_gzip: (b) => b.setCompression(Compression.GZIP).setWriterVersion(WriterVersion.V2).setDictionaryEnabled(false),
    wasm_v2_delta: (b) =>
      b
        .setCompression(Compression.LZ4_RAW)
        .setWriterVersion(WriterVersion.V2)
        .setDictionaryEnabled(false)
        .setColumnEncoding('i32', WasmEncoding.DELTA_BINARY_PACKED)
        .setColumnEncoding('i64', WasmEncoding.DELTA_BINARY_PACKED)
        .setColumnEncoding('ts_ms', WasmEncoding.DELTA_BINARY_PACKED)
        .setColumnEncoding('s', WasmEncoding.DELTA_BYTE_ARRAY)
        .setColumnEncoding('s_dict', WasmEncoding.DELTA_LENGTH_BYTE_ARRAY)
        .setColumnEncoding('f64', WasmEncoding.BYTE_STREAM_SPLIT)
        .setColumnEncoding('f32', WasmEncoding.BYTE_STREAM_SPLIT)
        .setColumnEncoding('b', WasmEncoding.RLE),
    // Small pages and row groups: many pages per chunk, dictionary fallback to PLAIN mid-chunk.
    wasm_v1_small_pages: (b) => b.setCompression(Compression.UNCOMPRESSED).setDataPageSizeLimit(512).setMaxRowGroupSize(1500),
  };
  for (const [name, configure] of Object.entries(variants)) {
    const bytes = writeParquet(WasmTable.fromIPCStream(ipc), configure(new WriterPropertiesBuilder()).build());
    const f = `${dir}/${name}.parquet`;
    fs.writeFileSync(f, bytes);
    files.push(f);
  }
}

beforeAll(async () => {
  dir = tempDir('squall-pq-');
  db = await duck();
  files.push(...(await writeDuckFiles(db.c, dir, DUCK_TYPES, DUCK_FILES, 'ROW_GROUP_SIZE 2048')));
  writeWasmFiles();
});

afterAll(() => {
  db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function duckValues(file: string, schema: Schema): Promise<Record<string, unknown>[]> {
  return normalizeDuckRows(await duckRows(db.c, `SELECT ${canonicalSelect(schema)} FROM read_parquet('${file}')`), schema);
}

function footer(file: string): ThriftStruct {
  const buf = fs.readFileSync(file);
  const len = buf.readUInt32LE(buf.length - 8);
  return new ThriftReader(new Uint8Array(buf.buffer, buf.byteOffset + buf.length - 8 - len, len)).struct();
}

/** Page types and value encodings actually present in a file (read from its page headers). */
function pageKinds(file: string): { pageTypes: Set<number>; encodings: Set<number>; codecs: Set<number> } {
  const buf = new Uint8Array(fs.readFileSync(file));
  const meta = fileMeta(footer(file));
  const out = { pageTypes: new Set<number>(), encodings: new Set<number>(), codecs: new Set<number>() };
  for (const rg of meta.rowGroups) {
    for (const ch of rg.chunks) {
      out.codecs.add(ch.codec);
      let pos = ch.start;
      while (pos < ch.start + ch.length) {
        const r = new ThriftReader(buf.subarray(pos, ch.start + ch.length));
        const h = r.struct();
        out.pageTypes.add(h[1] as number);
        const dh = (h[5] ?? h[8]) as ThriftStruct | undefined;
        if (dh) out.encodings.add((h[5] ? dh[2] : dh[4]) as number);
        pos += r.pos + (h[3] as number);
      }
    }
  }
  return out;
}

async function parquetWasmSchema(file: string): Promise<Schema> {
  const pf = await ParquetFile.fromFile(new Blob([fs.readFileSync(file)]));
  try {
    return fromArrowSchema(arrow.tableFromIPC(pf.schema().intoIPCStream()).schema);
  } finally {
    pf.free();
  }
}

describe('Parquet decoder corpus', () => {
  it('covers data page v1 and v2, every codec and the PLAIN, dictionary, RLE, delta and byte-stream-split encodings', () => {
    const pageTypes = new Set<number>();
    const encodings = new Set<number>();
    const codecs = new Set<number>();
    for (const f of files) {
      const k = pageKinds(f);
      k.pageTypes.forEach((x) => pageTypes.add(x));
      k.encodings.forEach((x) => encodings.add(x));
      k.codecs.forEach((x) => codecs.add(x));
    }
    expect([...pageTypes].sort()).toEqual([0, 2, 3]); // DATA_PAGE, DICTIONARY_PAGE, DATA_PAGE_V2
    // PLAIN, RLE, DELTA_BINARY_PACKED, DELTA_LENGTH_BYTE_ARRAY, DELTA_BYTE_ARRAY, RLE_DICTIONARY, BYTE_STREAM_SPLIT
    for (const e of [0, 3, 5, 6, 7, 8, 9]) expect(encodings, `encoding ${e}`).toContain(e);
    // UNCOMPRESSED, SNAPPY, GZIP, BROTLI, ZSTD, LZ4_RAW
    for (const c of [0, 1, 2, 4, 6, 7]) expect(codecs, `codec ${c}`).toContain(c);
  });

  it('maps every column to the type parquet-wasm reads it as', async () => {
    for (const f of files) expect(schemaToString(await readParquetSchema(f)), f).toBe(schemaToString(await parquetWasmSchema(f)));
  });

  for (const threads of [0, 2]) {
    it(`decodes every value as DuckDB reads it (${threads ? `${threads} worker threads` : 'in-thread'})`, async () => {
      for (const f of files) {
        const schema = await readParquetSchema(f);
        const batches = await collect(scanParquet([f], { columns: null, threads, decoder: 'squall' }));
        // Worker threads decode into shared memory (posted, not transferred: see decodeIntoSharedMemory). The
        // values of a few types are converted to their Arrow layout on the calling thread, in its own memory.
        const buffers = batches.flatMap((b) => b.schema.fields.flatMap((field, i) => buffersOf(field.name, b.data.children[i]!)));
        expect(buffers.length, f).toBeGreaterThan(0);
        const converted = ['u32 values', 'f32 values', 'dec_wide values', 'ts_ms values', 'ts_ns values'];
        const wrong = buffers.filter((x) => !converted.includes(x.what) && x.buffer instanceof SharedArrayBuffer !== threads > 0).map((x) => x.what);
        expect(wrong, `${f}: buffers ${threads ? 'not ' : ''}in shared memory`).toEqual([]);
        const got = batchRows(batches, schema);
        const want = await duckValues(f, schema);
        expect(got.length, f).toBe(want.length);
        for (let r = 0; r < want.length; r++) if (JSON.stringify(got[r]) !== JSON.stringify(want[r])) expect(got[r], `${f} row ${r}`).toEqual(want[r]);
      }
    });
  }

  it('keeps dictionary-encoded strings as Arrow dictionaries and other columns in typed arrays', async () => {
    const f = files.find((x) => x.endsWith('duck_v1_snappy.parquet'))!;
    const [b] = await collect(scanParquet([f], { columns: ['s_dict', 'dec_dict', 'dt_dict'], decoder: 'squall' }));
    expect(b!.getChildAt(0)!.data[0]!.type.typeId).toBe(arrow.Type.Dictionary);
    expect(b!.getChildAt(1)!.data[0]!.values).toBeInstanceOf(Uint32Array);
    expect(b!.getChildAt(2)!.data[0]!.values).toBeInstanceOf(Int32Array);
  });

  it('slices row groups into batches at any offset, nulls included', async () => {
    const f = files.find((x) => x.endsWith('duck_v2_zstd.parquet'))!;
    const schema = await readParquetSchema(f);
    const batches = await collect(scanParquet([f], { columns: null, batchSize: 301, decoder: 'squall' }));
    expect(batches.every((b) => b.numRows <= 301)).toBe(true);
    expect(batchRows(batches, schema)).toEqual(await duckValues(f, schema));
  });

  it('reads columns it does not decode (nested vectors) through parquet-wasm, next to decoded ones', async () => {
    const n = 300;
    const values = new Float32Array(n * 3).map((_, i) => i / 4 - 7);
    const child = arrow.makeData({ type: new arrow.Float32(), length: n * 3, data: values });
    const bitmap = new Uint8Array(((n + 63) >> 6) << 3);
    for (let i = 0; i < n; i++) if (i % 4 !== 0) bitmap[i >> 3]! |= 1 << (i & 7);
    const vtype = new arrow.FixedSizeList(3, new arrow.Field('item', new arrow.Float32(), true));
    const v = arrow.makeData({ type: vtype, length: n, nullCount: Math.ceil(n / 4), nullBitmap: bitmap, child });
    const table = new arrow.Table({ id: arrow.makeVector(new Int32Array(n).map((_, i) => i * 3)), v: arrow.makeVector(v) });
    const f = `${dir}/vectors.parquet`;
    fs.writeFileSync(f, writeParquet(WasmTable.fromIPCStream(arrow.tableToIPC(table, 'stream')), new WriterPropertiesBuilder().build()));
    const schema = await readParquetSchema(f);
    expect(schemaToString(schema)).toContain('v: vector<float32>[3]');
    // The strict decoder refuses the nested column; the default path reads it through parquet-wasm.
    await expect(collect(scanParquet([f], { columns: ['id', 'v'], decoder: 'squall' }))).rejects.toThrow(/does not read/);
    const rows = batchRows(await collect(scanParquet([f], { columns: null })), schema);
    expect(rows).toEqual(await duckValues(f, schema));
    expect(rows[1]).toEqual({ id: 3, v: [-6.25, -6, -5.75] });
    expect(rows[0]!.v).toBeNull();
    const ids = await collect(scanParquet([f], { columns: ['id'], decoder: 'squall' }));
    expect(batchRows(ids, { fields: [schema.fields[0]!] }).map((r) => r.id)).toEqual(rows.map((r) => r.id));
  });
});

describe('corrupt input', () => {
  it('raises DataError naming the file for damaged pages, whatever bytes are hit, and never hangs', async () => {
    const src = fs.readFileSync(files.find((x) => x.endsWith('duck_v2_snappy.parquet'))!);
    const md = fileMeta(footer(files.find((x) => x.endsWith('duck_v2_snappy.parquet'))!));
    const dataEnd = Math.max(...md.rowGroups.flatMap((rg) => rg.chunks.map((c) => c.start + c.length)));
    const f = `${dir}/damaged.parquet`;
    let errors = 0;
    for (let k = 0; k < 40; k++) {
      const b = Buffer.from(src);
      // Damage a few bytes inside the column data (the footer stays intact, so decoding is what fails).
      for (let j = 0; j < 3; j++) {
        const at = 4 + ((k * 7919 + j * 104729) % (dataEnd - 4));
        b[at] = b[at]! ^ (0x5a + k);
      }
      fs.writeFileSync(f, b);
      for (const threads of [0, 1]) {
        const r = await collect(scanParquet([f], { columns: null, threads })).catch((e) => e);
        if (r instanceof Error) {
          expect(r, String(r)).toBeInstanceOf(DataError);
          expect(r.message).toContain(f);
          errors++;
        }
      }
    }
    expect(errors).toBeGreaterThan(10);
  });

  it('raises DataError for a file cut short in its data', async () => {
    const src = fs.readFileSync(files[0]!);
    const f = `${dir}/cut.parquet`;
    // Keep the footer but drop bytes before it: chunk offsets then point past the data.
    const len = src.readUInt32LE(src.length - 8);
    const tail = src.subarray(src.length - 8 - len);
    fs.writeFileSync(f, Buffer.concat([src.subarray(0, 2000), tail]));
    // Read by the decoding thread: a worker, or this thread.
    for (const threads of [undefined, 0, 1]) {
      const err = await collect(scanParquet([f], { columns: null, ...(threads !== undefined ? { threads } : {}) })).catch((e) => e);
      expect(err).toBeInstanceOf(DataError);
      expect(err.message).toContain(f);
      expect(err.message).toMatch(/truncated/);
    }
  });
});

describe('decoder building blocks', () => {
  it('snappy: literals, short and long copies, overlapping runs; rejects bad input', () => {
    // "abcd" literal, then copy-1 of offset 4 len 8 (overlapping), then a 2-byte-offset copy of 6.
    const block = new Uint8Array([18, 0x0c, 97, 98, 99, 100, 0x11, 0x04, 0x16, 0x0a, 0x00]);
    const out = new Uint8Array(18);
    expect(snappyDecompress(block, out)).toBe(18);
    expect(Buffer.from(out).toString()).toBe('abcdabcdabcdcdabcd');
    expect(() => snappyDecompress(new Uint8Array([10, 0x11, 0x04]), new Uint8Array(10))).toThrow(RangeError);
    expect(() => snappyDecompress(new Uint8Array([200, 1, 0]), new Uint8Array(10))).toThrow(RangeError);
  });

  it('RLE / bit-packed hybrid: runs, packed groups, widths up to 32', () => {
    // run of 5 × value 3 (width 2), then one bit-packed group of 8 values 0..7 (width 3)
    const out = new Int32Array(13);
    decodeRle(new Uint8Array([10, 3, 3, 0x88, 0xc6, 0xfa]), 0, 6, 3, 13, out);
    expect([...out]).toEqual([3, 3, 3, 3, 3, 0, 1, 2, 3, 4, 5, 6, 7]);
    const wide = new Int32Array(8);
    const bytes = new Uint8Array(1 + 32);
    bytes[0] = 3; // one group of 8, width 32
    for (let i = 0; i < 8; i++) new DataView(bytes.buffer).setUint32(1 + 4 * i, 0xfffffff0 + i, true);
    decodeRle(bytes, 0, bytes.length, 32, 8, wide);
    expect([...wide].map((x) => x >>> 0)).toEqual([0, 1, 2, 3, 4, 5, 6, 7].map((i) => 0xfffffff0 + i));
  });

  it('DELTA_BINARY_PACKED: the spec example and 64-bit values', () => {
    // Spec example: 7, 5, 3, 1, 2, 3, 4, 5 → block 128/4, first 7, min delta -2, width 2 for the first miniblock.
    const header = [128, 1, 4, 8, 14, 3, 2, 0, 0, 0];
    const deltas = [0, 0, 0, 3, 3, 3, 3]; // delta - min delta for the 7 deltas, packed at width 2
    const packed = new Uint8Array(8);
    deltas.forEach((d, i) => (packed[(i * 2) >> 3]! |= d << ((i * 2) & 7)));
    const buf = new Uint8Array([...header, ...packed]);
    const out = new Int32Array(8);
    const r = decodeDeltaBinaryPacked(buf, 0, buf.length, 8, out, 0, false);
    expect(r.count).toBe(8);
    expect([...out]).toEqual([7, 5, 3, 1, 2, 3, 4, 5]);
  });

  it('coalesces nearby chunk reads and keeps distant ones apart', () => {
    const groups = coalesceRanges(
      [
        { start: 100, length: 50 },
        { start: 0, length: 100 },
        { start: 5_000_000, length: 10 },
      ],
      1000,
    );
    expect(groups.map((g) => [g.start, g.end, g.members.length])).toEqual([
      [0, 150, 2],
      [5_000_000, 5_000_010, 1],
    ]);
  });
});

/** The buffers of a column's data, its children's and its dictionary's, each with the part it holds. */
function buffersOf(what: string, d: arrow.Data): { what: string; buffer: ArrayBufferLike }[] {
  const parts = { values: d.values, offsets: d.valueOffsets, validity: d.nullBitmap } as Record<string, ArrayBufferView | null | undefined>;
  const own = Object.entries(parts).flatMap(([part, a]) => (a && a.byteLength > 0 ? [{ what: `${what} ${part}`, buffer: a.buffer }] : []));
  return [...own, ...d.children.flatMap((c) => buffersOf(`${what}.child`, c)), ...(d.dictionary ? d.dictionary.data.flatMap((c) => buffersOf(`${what} dictionary`, c)) : [])];
}
