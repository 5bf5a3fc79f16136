// Reads many byte ranges of one object with few, large requests: nearby ranges are coalesced (a gap up to
// `gapBytes` is read and thrown away), requests are cut at about `requestBytes`, and several are in flight at
// once. Parquet footers and column chunks are read through here; S3 charges per request and each request has
// tens of milliseconds of latency, so one 8 MB GET beats a hundred small ones.
import { type ObjectStore, ObjectStoreError } from './object-store.ts';

export interface ByteRange {
  /** Inclusive. */
  readonly start: number;
  /** Exclusive. */
  readonly end: number;
}

export interface RangeReadOptions {
  /** Ranges separated by at most this many bytes are read by one request. */
  readonly gapBytes?: number;
  /** Requests are cut to at most this many bytes (a single wanted range larger than this spans several). */
  readonly requestBytes?: number;
  /** Requests in flight at once. */
  readonly concurrency?: number;
}

export const DEFAULT_RANGE_READ_OPTIONS: Required<RangeReadOptions> = {
  gapBytes: 1 << 20,
  requestBytes: 8 << 20,
  concurrency: 4,
};

export interface PlannedRequest extends ByteRange {}

/** The requests that cover `ranges`: sorted, coalesced across small gaps, each at most `requestBytes`. */
export function planRangeRequests(ranges: readonly ByteRange[], options: RangeReadOptions = {}): PlannedRequest[] {
  const gap = options.gapBytes ?? DEFAULT_RANGE_READ_OPTIONS.gapBytes;
  const max = Math.max(1, options.requestBytes ?? DEFAULT_RANGE_READ_OPTIONS.requestBytes);
  for (const r of ranges) {
    if (!(Number.isInteger(r.start) && Number.isInteger(r.end) && r.start >= 0 && r.end >= r.start)) {
      throw new RangeError(`invalid byte range ${r.start}-${r.end}`);
    }
  }
  const sorted = ranges.filter((r) => r.end > r.start).sort((a, b) => a.start - b.start || a.end - b.end);
  // Merge into spans first (the union of the ranges with small gaps filled), then cut each span.
  const spans: { start: number; end: number }[] = [];
  for (const r of sorted) {
    const last = spans[spans.length - 1];
    if (last && r.start - last.end <= gap) {
      // A merge must not make a span that needs more requests than its parts would alone.
      const merged = Math.max(last.end, r.end) - last.start;
      const apart = Math.ceil((last.end - last.start) / max) + Math.ceil((r.end - r.start) / max);
      if (Math.ceil(merged / max) <= apart || r.start < last.end) {
        last.end = Math.max(last.end, r.end);
        continue;
      }
    }
    spans.push({ start: r.start, end: r.end });
  }
  const out: PlannedRequest[] = [];
  for (const s of spans) {
    const n = Math.ceil((s.end - s.start) / max);
    const step = Math.ceil((s.end - s.start) / n);
    for (let start = s.start; start < s.end; start += step) out.push({ start, end: Math.min(s.end, start + step) });
  }
  return out;
}

/** Runs `tasks` with at most `limit` in flight; results in task order. */
export async function mapBounded<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < items.length) {
      const i = next++;
      try {
        out[i] = await fn(items[i]!, i);
      } catch (e) {
        failed = true;
        throw e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return out;
}

/**
 * The bytes of each wanted range of `uri`, in the order asked (cut short at the object's end). A range that
 * lies inside one request is a view into that request's buffer, not a copy.
 */
export async function readRanges(
  store: Pick<ObjectStore, 'getRange'>,
  uri: string,
  ranges: readonly ByteRange[],
  options: RangeReadOptions = {},
): Promise<Uint8Array[]> {
  const requests = planRangeRequests(ranges, options);
  const concurrency = options.concurrency ?? DEFAULT_RANGE_READ_OPTIONS.concurrency;
  const buffers = await mapBounded(requests, concurrency, (r) => store.getRange(uri, r.start, r.end));
  return ranges.map((want) => slice(requests, buffers, want));
}

function slice(requests: readonly PlannedRequest[], buffers: readonly Uint8Array[], want: ByteRange): Uint8Array {
  if (want.end <= want.start) return new Uint8Array(0);
  // The first request that ends after want.start (requests are sorted and disjoint).
  let lo = 0;
  let hi = requests.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (requests[mid]!.end <= want.start) lo = mid + 1;
    else hi = mid;
  }
  const first = requests[lo]!;
  const firstBuf = buffers[lo]!;
  // A request's buffer is shorter than asked only at the object's end.
  const available = (i: number) => requests[i]!.start + buffers[i]!.length;
  if (want.end <= first.end) {
    return firstBuf.subarray(want.start - first.start, Math.min(want.end, available(lo)) - first.start);
  }
  const parts: Uint8Array[] = [];
  let total = 0;
  for (let i = lo; i < requests.length && requests[i]!.start < want.end; i++) {
    const r = requests[i]!;
    const from = Math.max(want.start, r.start) - r.start;
    const to = Math.min(want.end, available(i)) - r.start;
    if (to <= from) break;
    parts.push(buffers[i]!.subarray(from, to));
    total += to - from;
    if (available(i) < r.end) break;
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * The last `bytes` bytes of an object (all of it if smaller) and the object's size: a Parquet footer read.
 * Uses an explicit range, after a HEAD when `size` is not known, because s3rver answers suffix ranges
 * (`bytes=-N`) wrongly.
 */
export async function readTail(
  store: Pick<ObjectStore, 'getRange' | 'head'>,
  uri: string,
  bytes: number,
  size?: number,
): Promise<{ size: number; tail: Uint8Array }> {
  let total = size;
  if (total === undefined) {
    const info = await store.head(uri);
    if (info === null) throw new ObjectStoreError(uri, 'HEAD', 'NoSuchKey', 'the object does not exist', 404);
    total = info.size;
  }
  const start = Math.max(0, total - bytes);
  return { size: total, tail: await store.getRange(uri, start, total) };
}
