// Snappy through the WebAssembly decoder of snappy.wat: one instance per thread, made on first use, whose
// memory holds a page's compressed bytes and then its output, which is copied out. Where WebAssembly cannot
// be instantiated (or the page is too large to stage), callers use the JavaScript decoder.
import { SNAPPY_WASM_BASE64 } from './snappy-wasm-bytes.ts';
import { snappyUncompressedLength } from './snappy.ts';

/** Pages up to this size are staged in the module's memory (which never shrinks); larger ones are left to JS. */
export const SNAPPY_WASM_MAX_PAGE = 16 << 20;

/** Bytes the decoder may read or write past each region (see snappy.wat). */
const SLACK = 64;
const WASM_PAGE = 64 << 10;

interface SnappyModule {
  readonly memory: WebAssembly.Memory;
  readonly decompress: (src: number, srcLen: number, dst: number, dstLen: number) => number;
}

let instance: SnappyModule | null | undefined;

function snappyModule(): SnappyModule | null {
  if (instance !== undefined) return instance;
  try {
    const wasm = new WebAssembly.Instance(new WebAssembly.Module(Buffer.from(SNAPPY_WASM_BASE64, 'base64')));
    instance = wasm.exports as unknown as SnappyModule;
  } catch {
    instance = null;
  }
  return instance;
}

/** Whether this thread can decode through WebAssembly. */
export function snappyWasmAvailable(): boolean {
  return snappyModule() !== null;
}

/**
 * snappyDecompress's contract through WebAssembly: decompresses the block `src` into `out` (at least the
 * declared length) and returns the bytes written; malformed input raises RangeError. Returns -1 without
 * touching `out` when WebAssembly is unavailable or the page exceeds SNAPPY_WASM_MAX_PAGE.
 */
export function snappyDecompressWasm(src: Uint8Array, out: Uint8Array): number {
  const mod = snappyModule();
  if (!mod || src.length > SNAPPY_WASM_MAX_PAGE || out.length > SNAPPY_WASM_MAX_PAGE) return -1;
  const expected = snappyUncompressedLength(src);
  if (expected > out.length) throw new RangeError(`snappy: block declares ${expected} bytes, more than expected ${out.length}`);
  const dst = (src.length + SLACK + 15) & ~15;
  const need = dst + expected + SLACK;
  if (mod.memory.buffer.byteLength < need) mod.memory.grow(Math.ceil((need - mod.memory.buffer.byteLength) / WASM_PAGE));
  const heap = new Uint8Array(mod.memory.buffer);
  heap.set(src, 0);
  const n = mod.decompress(0, src.length, dst, expected);
  if (n < 0) throw new RangeError(n === -3 ? 'snappy: a literal or copy runs past the end of the block or of its output' : 'snappy: bad length header');
  out.set(heap.subarray(dst, dst + n));
  return n;
}
