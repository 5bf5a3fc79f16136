;; Raw (block-format) Snappy decompression in WebAssembly text, compiled by `npm run build:wasm` into
;; snappy-wasm-bytes.ts (test/io/snappy-wasm.test.ts checks the two agree). Same contract as snappy.ts, which
;; it beats about 1.4x on pages of many short operations (a dictionary of doubles: a 2-byte literal and a
;; 6-byte copy an entry): unaligned 8- and 16-byte moves are single instructions here.
(module
  (memory (export "memory") 1)
  ;; Decompresses [src, src + srcLen) into [dst, dst + dstLen). Each region is followed by at least 64 bytes
  ;; the caller owns, so moves of 8 or 16 bytes may read or write past an operation's end (the next
  ;; operation overwrites what was written). Returns dstLen, or: -1 bad length header, -2 a declared length
  ;; other than dstLen, -3 a literal or copy running past either end, or the block ending short of dstLen.
  (func (export "decompress") (param $src i32) (param $srcLen i32) (param $dst i32) (param $dstLen i32) (result i32)
    (local $ip i32) (local $ipEnd i32) (local $op i32) (local $opEnd i32)
    (local $tag i32) (local $len i32) (local $off i32) (local $from i32)
    (local $b i32) (local $shift i32) (local $expected i32) (local $k i32)
    (local.set $ip (local.get $src))
    (local.set $ipEnd (i32.add (local.get $src) (local.get $srcLen)))
    ;; The uncompressed length: a varint of at most 32 bits.
    (block $header
      (loop $byte
        (if (i32.ge_u (local.get $ip) (local.get $ipEnd)) (then (return (i32.const -1))))
        (local.set $b (i32.load8_u (local.get $ip)))
        (local.set $ip (i32.add (local.get $ip) (i32.const 1)))
        (if (i32.and (i32.eq (local.get $shift) (i32.const 28)) (i32.gt_u (local.get $b) (i32.const 15)))
          (then (return (i32.const -1))))
        (local.set $expected (i32.or (local.get $expected)
          (i32.shl (i32.and (local.get $b) (i32.const 0x7f)) (local.get $shift))))
        (br_if $header (i32.eqz (i32.and (local.get $b) (i32.const 0x80))))
        (local.set $shift (i32.add (local.get $shift) (i32.const 7)))
        (br $byte)))
    (if (i32.ne (local.get $expected) (local.get $dstLen)) (then (return (i32.const -2))))
    (local.set $op (local.get $dst))
    (local.set $opEnd (i32.add (local.get $dst) (local.get $dstLen)))
    (block $done
      (loop $operation
        (br_if $done (i32.ge_u (local.get $ip) (local.get $ipEnd)))
        (local.set $tag (i32.load8_u (local.get $ip)))
        (if (i32.eqz (i32.and (local.get $tag) (i32.const 3)))
          (then
            ;; A literal: its length - 1 in the tag, or in the 1 to 4 bytes after it.
            (local.set $len (i32.shr_u (local.get $tag) (i32.const 2)))
            (if (i32.lt_u (local.get $len) (i32.const 60))
              (then (local.set $ip (i32.add (local.get $ip) (i32.const 1))))
              (else
                (local.set $k (i32.sub (local.get $len) (i32.const 59)))
                (local.set $len (i32.load offset=1 (local.get $ip)))
                (if (i32.lt_u (local.get $k) (i32.const 4))
                  (then (local.set $len (i32.and (local.get $len)
                    (i32.sub (i32.shl (i32.const 1) (i32.shl (local.get $k) (i32.const 3))) (i32.const 1))))))
                (local.set $ip (i32.add (local.get $ip) (i32.add (local.get $k) (i32.const 1))))
                (if (i32.gt_u (local.get $ip) (local.get $ipEnd)) (then (return (i32.const -3))))))
            ;; len + 1 bytes, compared in 64 bits so that a length near 2^32 cannot wrap.
            (if (i64.gt_u (i64.add (i64.extend_i32_u (local.get $len)) (i64.const 1))
                          (i64.extend_i32_u (i32.sub (local.get $ipEnd) (local.get $ip))))
              (then (return (i32.const -3))))
            (local.set $len (i32.add (local.get $len) (i32.const 1)))
            (if (i32.gt_u (local.get $len) (i32.sub (local.get $opEnd) (local.get $op)))
              (then (return (i32.const -3))))
            (if (i32.le_u (local.get $len) (i32.const 16))
              (then (v128.store (local.get $op) (v128.load (local.get $ip))))
              (else (memory.copy (local.get $op) (local.get $ip) (local.get $len))))
            (local.set $ip (i32.add (local.get $ip) (local.get $len)))
            (local.set $op (i32.add (local.get $op) (local.get $len)))
            (br $operation)))
        ;; A copy: kind 1 (length 4-11, 11-bit offset), 2 (length 1-64, 16-bit offset) or 3 (32-bit offset).
        (if (i32.eq (i32.and (local.get $tag) (i32.const 3)) (i32.const 1))
          (then
            (local.set $len (i32.add (i32.and (i32.shr_u (local.get $tag) (i32.const 2)) (i32.const 7)) (i32.const 4)))
            (local.set $off (i32.or (i32.shl (i32.shr_u (local.get $tag) (i32.const 5)) (i32.const 8))
                                    (i32.load8_u offset=1 (local.get $ip))))
            (local.set $ip (i32.add (local.get $ip) (i32.const 2))))
          (else
            (local.set $len (i32.add (i32.shr_u (local.get $tag) (i32.const 2)) (i32.const 1)))
            (if (i32.eq (i32.and (local.get $tag) (i32.const 3)) (i32.const 2))
              (then
                (local.set $off (i32.load16_u offset=1 (local.get $ip)))
                (local.set $ip (i32.add (local.get $ip) (i32.const 3))))
              (else
                (local.set $off (i32.load offset=1 (local.get $ip)))
                (local.set $ip (i32.add (local.get $ip) (i32.const 5)))))))
        (if (i32.gt_u (local.get $ip) (local.get $ipEnd)) (then (return (i32.const -3))))
        (if (i32.or (i32.eqz (local.get $off))
                    (i32.gt_u (local.get $off) (i32.sub (local.get $op) (local.get $dst))))
          (then (return (i32.const -3))))
        (if (i32.gt_u (local.get $len) (i32.sub (local.get $opEnd) (local.get $op)))
          (then (return (i32.const -3))))
        (local.set $from (i32.sub (local.get $op) (local.get $off)))
        (if (i32.ge_u (local.get $off) (i32.const 8))
          (then
            ;; 8 bytes at a time: each load ends at or before the bytes it precedes, so overlap is safe.
            (i64.store (local.get $op) (i64.load (local.get $from)))
            (i64.store offset=8 (local.get $op) (i64.load offset=8 (local.get $from)))
            (if (i32.gt_u (local.get $len) (i32.const 16))
              (then
                (local.set $k (i32.const 16))
                (loop $words
                  (i64.store (i32.add (local.get $op) (local.get $k)) (i64.load (i32.add (local.get $from) (local.get $k))))
                  (local.set $k (i32.add (local.get $k) (i32.const 8)))
                  (br_if $words (i32.lt_u (local.get $k) (local.get $len)))))))
          (else
            ;; Closer than 8 bytes back: the pattern repeats, byte by byte as the format defines it.
            (local.set $k (i32.const 0))
            (loop $bytes
              (i32.store8 (i32.add (local.get $op) (local.get $k)) (i32.load8_u (i32.add (local.get $from) (local.get $k))))
              (local.set $k (i32.add (local.get $k) (i32.const 1)))
              (br_if $bytes (i32.lt_u (local.get $k) (local.get $len))))))
        (local.set $op (i32.add (local.get $op) (local.get $len)))
        (br $operation)))
    (if (i32.ne (local.get $op) (local.get $opEnd)) (then (return (i32.const -3))))
    (local.get $dstLen)))
