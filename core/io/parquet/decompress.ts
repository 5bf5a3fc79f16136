// Page decompression for the codecs Parquet writers use: Snappy (our own decoders, in WebAssembly and in
// JavaScript), GZIP and Brotli (Node's zlib), ZSTD (fzstd, pure JavaScript) and LZ4_RAW (our own block
// decoder). LZO and the Hadoop-framed LZ4 are left to parquet-wasm.
import * as zlib from 'node:zlib';
import { decompress as zstdDecompress } from 'fzstd';
import { Codec } from './format.ts';
import { ParquetFormatError, ParquetUnsupportedError } from './encodings.ts';
import { snappyDecompress } from './snappy.ts';
import { snappyDecompressWasm } from './snappy-wasm.ts';

/** Snappy pages that shrank by at least this ratio are decoded by WebAssembly (measured: see snappy.wat). */
const WASM_MIN_RATIO = 1.1;

/** Larger pages than this are taken as corrupt headers rather than allocated. */
export const MAX_PAGE = 1 << 30;

/**
 * The `size` uncompressed bytes of `src`. `scratch` is reused between calls when large enough (the caller
 * copies what it keeps out of the result before the next call).
 */
export function decompress(codec: number, src: Uint8Array, size: number, scratch: { buf: Uint8Array }): Uint8Array {
  if (codec === Codec.UNCOMPRESSED) return src;
  if (size < 0 || size > MAX_PAGE) throw new ParquetFormatError(`page declares ${size} uncompressed bytes`);
  switch (codec) {
    case Codec.SNAPPY: {
      const out = scratchOf(scratch, size);
      // Pages that compress hold many short operations, where WebAssembly's wide moves pay for staging the
      // page in its memory; an incompressible page is a few long literals, copied as fast from JavaScript.
      let n = src.length * WASM_MIN_RATIO < size ? snappyDecompressWasm(src, out) : -1;
      if (n < 0) n = snappyDecompress(src, out);
      if (n !== size) throw new ParquetFormatError(`snappy page holds ${n} bytes, header says ${size}`);
      return out.subarray(0, n);
    }
    case Codec.GZIP:
      return checked(zlib.gunzipSync(src, { maxOutputLength: size + 1 }), size);
    case Codec.BROTLI:
      return checked(zlib.brotliDecompressSync(src, { maxOutputLength: size + 1 }), size);
    case Codec.ZSTD: {
      const out = scratchOf(scratch, size);
      const got = zstdDecompress(src, out);
      return checked(got, size);
    }
    case Codec.LZ4_RAW: {
      const out = scratchOf(scratch, size);
      return checked(out.subarray(0, lz4BlockDecompress(src, out.subarray(0, size))), size);
    }
    default:
      throw new ParquetUnsupportedError(`compression codec ${codec}`);
  }
}

function scratchOf(scratch: { buf: Uint8Array }, size: number): Uint8Array {
  if (scratch.buf.length < size) scratch.buf = new Uint8Array(Math.max(size, scratch.buf.length * 2));
  return scratch.buf.subarray(0, size);
}

function checked(out: Uint8Array, size: number): Uint8Array {
  if (out.length !== size) throw new ParquetFormatError(`page holds ${out.length} uncompressed bytes, header says ${size}`);
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
}

/** One LZ4 block (no frame); returns the bytes written. */
export function lz4BlockDecompress(src: Uint8Array, out: Uint8Array): number {
  let ip = 0;
  let op = 0;
  const n = src.length;
  while (ip < n) {
    const token = src[ip++]!;
    let lit = token >>> 4;
    if (lit === 15) {
      let b;
      do {
        if (ip >= n) throw new ParquetFormatError('lz4: truncated literal length');
        b = src[ip++]!;
        lit += b;
      } while (b === 255);
    }
    if (ip + lit > n || op + lit > out.length) throw new ParquetFormatError('lz4: literal past the end');
    out.set(src.subarray(ip, ip + lit), op);
    ip += lit;
    op += lit;
    if (ip >= n) break; // the last sequence has literals only
    if (ip + 2 > n) throw new ParquetFormatError('lz4: truncated match offset');
    const offset = src[ip]! | (src[ip + 1]! << 8);
    ip += 2;
    let len = (token & 15) + 4;
    if ((token & 15) === 15) {
      let b;
      do {
        if (ip >= n) throw new ParquetFormatError('lz4: truncated match length');
        b = src[ip++]!;
        len += b;
      } while (b === 255);
    }
    if (offset === 0 || offset > op || op + len > out.length) throw new ParquetFormatError('lz4: bad match');
    let from = op - offset;
    const end = op + len;
    while (op < end) out[op++] = out[from++]!;
  }
  return op;
}
