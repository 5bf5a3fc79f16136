// Types for lz4js (pure-JS LZ4 frame format), used as Arrow IPC's LZ4_FRAME codec.
declare module 'lz4js' {
  export function compress(src: Uint8Array, maxSize?: number): Uint8Array;
  export function decompress(src: Uint8Array, maxSize?: number): Uint8Array;
}
