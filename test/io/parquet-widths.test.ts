// Dictionary indices of every bit width the decoder's generated kernels specialize on, in files written by
// DuckDB (snappy, zstd, data page v2) and parquet-wasm, with dictionaries of one-, two- and four-word integer
// and decimal entries (small, large and negative values), strings, and nulls (scattered, sparse, and in long
// runs): every value must be the one
// DuckDB reads from the same file, on worker threads and in-thread.
import * as fs from 'node:fs';
import * as arrow from 'apache-arrow';
import { Compression, Table as WasmTable, WriterPropertiesBuilder, WriterVersion, writeParquet } from 'parquet-wasm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readParquetSchema, scanParquet } from '../../core/io/parquet-reader.ts';
import { fileMeta } from '../../core/io/parquet/format.ts';
import { ThriftReader, type ThriftStruct } from '../../core/io/thrift-compact.ts';
import { batchRows, canonicalSelect, collect, duck, duckRows, normalizeDuckRows, tempDir, writeDuckFiles } from './helpers.ts';

const ROWS = 20000;
/** Distinct-value counts 2^k + 1 give dictionary indices of k + 1 bits. */
const WIDTHS = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14];

const DUCK_SQL = `
SELECT
  ${WIDTHS.map((k) => `((i * 7919) % ${2 ** k + 1})::INTEGER AS w${k}`).join(',\n  ')},
  CASE WHEN i % 11 = 0 THEN NULL ELSE (((i * 104729) % 3001) * 7)::DECIMAL(15,2) END AS dec_one_word,
  ((i * 31) % 2049)::BIGINT * 10000000007 AS i64_two_words,
  CASE WHEN i % 5 = 2 THEN NULL ELSE (((i * 13) % 1025) - 512)::DECIMAL(18,2) * 1000003 END AS dec_negative,
  ((i * 17) % 4097)::BIGINT - 2000 AS i64_negative,
  DATE '1992-01-01' + ((i * 3) % 2557)::INTEGER AS dt,
  CASE WHEN i % 13 = 0 THEN NULL ELSE 'k' || ((i * 7) % 5000)::VARCHAR END AS s,
  CASE WHEN i % 1000 = 7 THEN NULL ELSE ((i * 7919) % 40000)::DECIMAL(12,2) END AS sparse_nulls,
  CASE WHEN (i // 3001) % 2 = 1 THEN NULL ELSE i * 3 END AS null_runs,
  CASE WHEN (i // 517) % 3 = 0 THEN NULL ELSE (i % 2 = 0) END AS bool_null_runs
FROM range(0, ${ROWS}) t(i)`;

const DUCK_FILES: Record<string, string> = {
  widths_duck_snappy: 'COMPRESSION snappy',
  widths_duck_zstd_v2: 'COMPRESSION zstd, PARQUET_VERSION v2',
  widths_duck_none: 'COMPRESSION uncompressed',
};

let dir: string;
let db: Awaited<ReturnType<typeof duck>>;
const files: string[] = [];

beforeAll(async () => {
  dir = tempDir('squall-pq-widths-');
  db = await duck();
  files.push(...(await writeDuckFiles(db.c, dir, DUCK_SQL, DUCK_FILES, 'ROW_GROUP_SIZE 20000, DICTIONARY_SIZE_LIMIT 100000')));
  // The same rows through parquet-wasm (arrow-rs), which sizes index widths differently (one bit for two
  // entries), writes its own runs, and falls back to PLAIN when a dictionary outgrows its page size limit.
  const f = `${dir}/widths_duck_snappy.parquet`;
  const table = await readAsArrow(f);
  for (const [name, configure] of Object.entries({
    widths_wasm_snappy: (b: WriterPropertiesBuilder) => b.setCompression(Compression.SNAPPY).setMaxRowGroupSize(16384),
    widths_wasm_zstd_v2: (b: WriterPropertiesBuilder) => b.setCompression(Compression.ZSTD).setWriterVersion(WriterVersion.V2).setDictionaryPageSizeLimit(4096),
    widths_wasm_none: (b: WriterPropertiesBuilder) => b.setCompression(Compression.UNCOMPRESSED).setDataPageSizeLimit(16384),
  })) {
    const out = `${dir}/${name}.parquet`;
    fs.writeFileSync(out, writeParquet(WasmTable.fromIPCStream(arrow.tableToIPC(table, 'stream')), configure(new WriterPropertiesBuilder()).build()));
    files.push(out);
  }
}, 60000);

afterAll(() => {
  db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** A file's rows as an Arrow table, read with Squall's own scan (checked against DuckDB below). */
async function readAsArrow(f: string): Promise<arrow.Table> {
  const batches = await collect(scanParquet([f], { columns: null, decoder: 'squall' }));
  // Decimal128 columns go to parquet-wasm as they are; dictionary strings are decoded to plain strings first.
  const plain = batches.map((b) => {
    const cols: Record<string, arrow.Vector> = {};
    b.schema.fields.forEach((fl, i) => {
      const v = b.getChildAt(i)!;
      cols[fl.name] = fl.type.typeId === arrow.Type.Dictionary ? arrow.vectorFromArray(v.toArray() as (string | null)[], new arrow.Utf8()) : v;
    });
    return new arrow.Table(cols);
  });
  return plain.slice(1).reduce((t, x) => t.concat(x), plain[0]!);
}

function footer(file: string): ThriftStruct {
  const buf = fs.readFileSync(file);
  const len = buf.readUInt32LE(buf.length - 8);
  return new ThriftReader(new Uint8Array(buf.buffer, buf.byteOffset + buf.length - 8 - len, len)).struct();
}

/** The bit widths of the dictionary indices in a file's data pages (the first byte of each page's values). */
function indexWidths(file: string): Set<number> {
  const buf = new Uint8Array(fs.readFileSync(file));
  const meta = fileMeta(footer(file));
  const widths = new Set<number>();
  for (const rg of meta.rowGroups) {
    rg.chunks.forEach((ch, leafIndex) => {
      if (ch.codec !== 0) return;
      const optional = meta.leaves[leafIndex]!.maxDef > 0;
      let pos = ch.start;
      while (pos < ch.start + ch.length) {
        const r = new ThriftReader(buf.subarray(pos, ch.start + ch.length));
        const h = r.struct();
        const body = pos + r.pos;
        const dh = h[5] as ThriftStruct | undefined;
        // Data page v1: the values follow the definition levels (a 4-byte length, then the levels).
        const values = optional ? body + 4 + (buf[body]! | (buf[body + 1]! << 8) | (buf[body + 2]! << 16)) : body;
        if (dh && (dh[2] === 8 || dh[2] === 2)) widths.add(buf[values]!);
        pos = body + (h[3] as number);
      }
    });
  }
  return widths;
}

describe('dictionary indices of every bit width', () => {
  it('the uncompressed files hold dictionary-encoded pages with index widths 1..15', () => {
    const duckWidths = indexWidths(files.find((f) => f.endsWith('widths_duck_none.parquet'))!);
    const wasmWidths = indexWidths(files.find((f) => f.endsWith('widths_wasm_none.parquet'))!);
    for (let w = 2; w <= 15; w++) expect(duckWidths, `DuckDB, width ${w}`).toContain(w);
    for (let w = 1; w <= 15; w++) expect(wasmWidths, `parquet-wasm, width ${w}`).toContain(w);
  });

  for (const threads of [0, 2]) {
    it(`decodes every value as DuckDB reads it (${threads ? `${threads} worker threads` : 'in-thread'})`, async () => {
      for (const f of files) {
        const schema = await readParquetSchema(f);
        const got = batchRows(await collect(scanParquet([f], { columns: null, threads, decoder: 'squall' })), schema);
        const want = normalizeDuckRows(await duckRows(db.c, `SELECT ${canonicalSelect(schema)} FROM read_parquet('${f}')`), schema);
        expect(got.length, f).toBe(ROWS);
        for (let r = 0; r < want.length; r++) if (JSON.stringify(got[r]) !== JSON.stringify(want[r])) expect(got[r], `${f} row ${r}`).toEqual(want[r]);
      }
    }, 120000);
  }
});
