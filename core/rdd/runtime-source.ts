// The code a task runs inside its sandbox (a fresh node:vm context), kept as plain JavaScript text so that it
// is identical wherever it is evaluated (always as the body of a function, so its names stay local): in each task's sandbox (around the user's functions, so a task's time
// limit covers the whole loop) and once in the host (keyOf / hash / compare for partitioning on the driver).
// Nothing here touches host objects other than the records and steps it is given.

export const RUNTIME_SOURCE = String.raw`
"use strict";
// Built-ins as locals: in a vm context every global lookup goes through the context's interceptors, which is
// slow in a loop.
var Math = globalThis.Math, JSON = globalThis.JSON, Object = globalThis.Object, Array = globalThis.Array,
  Map = globalThis.Map, Set = globalThis.Set, Date = globalThis.Date, ArrayBuffer = globalThis.ArrayBuffer,
  Symbol = globalThis.Symbol, String = globalThis.String, TypeError = globalThis.TypeError, Error = globalThis.Error;

function __enc(v, top) {
  switch (typeof v) {
    case 'number': return v === 0 ? 'n0' : v !== v ? 'nNaN' : 'n' + v;
    case 'string': return top ? 's' + v : 's' + JSON.stringify(v);
    case 'boolean': return v ? 'b1' : 'b0';
    case 'bigint': return 'i' + v;
    case 'undefined': return 'u';
    case 'object': {
      if (v === null) return 'z';
      if (Array.isArray(v)) {
        var parts = new Array(v.length);
        for (var i = 0; i < v.length; i++) parts[i] = __enc(v[i], false);
        return '[' + parts.join(',') + ']';
      }
      var tag = Object.prototype.toString.call(v);
      if (tag === '[object Date]') return 'd' + v.getTime();
      if (tag === '[object Map]') {
        var es = [];
        v.forEach(function (x, k) { es.push(__enc(k, false) + ':' + __enc(x, false)); });
        return 'M{' + es.sort().join(',') + '}';
      }
      if (tag === '[object Set]') {
        var ss = [];
        v.forEach(function (x) { ss.push(__enc(x, false)); });
        return 'S{' + ss.sort().join(',') + '}';
      }
      if (ArrayBuffer.isView(v)) return 'T' + tag + '[' + Array.prototype.join.call(v, ',') + ']';
      var keys = Object.keys(v).sort();
      var kv = new Array(keys.length);
      for (var j = 0; j < keys.length; j++) kv[j] = JSON.stringify(keys[j]) + ':' + __enc(v[keys[j]], false);
      return '{' + kv.join(',') + '}';
    }
    default:
      throw new TypeError('cannot use a ' + typeof v + ' as a key');
  }
}

/** A canonical string for a plain value: equal values (by structure) give equal strings. */
function __keyOf(v) { return __enc(v, true); }

function __fmix(h) {
  h ^= h >>> 16; h = Math.imul(h, 0x85ebca6b); h ^= h >>> 13; h = Math.imul(h, 0xc2b2ae35); h ^= h >>> 16;
  return h;
}

/** FNV-1a over the key string's UTF-16 units, finalized with murmur3's fmix: the same in every process. */
function __hash(s) {
  var h = 0x811c9dc5 | 0;
  for (var i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return __fmix(h) >>> 0;
}

function __rank(v) {
  if (v === null || v === undefined) return 0;
  switch (typeof v) {
    case 'boolean': return 1;
    case 'number': case 'bigint': return 2;
    case 'string': return 3;
  }
  if (Object.prototype.toString.call(v) === '[object Date]') return 4;
  if (Array.isArray(v)) return 5;
  return 6;
}

/** A total order over plain values: null < booleans < numbers < strings < dates < arrays (lexicographic) < others. */
function __compare(a, b) {
  var ra = __rank(a), rb = __rank(b);
  if (ra !== rb) return ra - rb;
  switch (ra) {
    case 0: return 0;
    case 1: return (a ? 1 : 0) - (b ? 1 : 0);
    case 2: {
      if (a !== a) return b !== b ? 0 : 1;
      if (b !== b) return -1;
      return a < b ? -1 : a > b ? 1 : 0;
    }
    case 3: return a < b ? -1 : a > b ? 1 : 0;
    case 4: return a.getTime() - b.getTime();
    case 5: {
      var n = Math.min(a.length, b.length);
      for (var i = 0; i < n; i++) { var c = __compare(a[i], b[i]); if (c !== 0) return c; }
      return a.length - b.length;
    }
    default: {
      var ka = __keyOf(a), kb = __keyOf(b);
      return ka < kb ? -1 : ka > kb ? 1 : 0;
    }
  }
}

/** A deep copy of a plain value (for zero values, which each key starts from afresh). */
function __clone(v) {
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map(__clone);
  var tag = Object.prototype.toString.call(v);
  if (tag === '[object Date]') return new Date(v.getTime());
  if (tag === '[object Map]') { var m = new Map(); v.forEach(function (x, k) { m.set(__clone(k), __clone(x)); }); return m; }
  if (tag === '[object Set]') { var s = new Set(); v.forEach(function (x) { s.add(__clone(x)); }); return s; }
  if (ArrayBuffer.isView(v)) return v.slice();
  var o = {};
  for (var k in v) if (Object.prototype.hasOwnProperty.call(v, k)) o[k] = __clone(v[k]);
  return o;
}

/** mulberry32: a small seeded generator, so sample() picks the same records on every run. */
function __rng(seed) {
  var a = seed | 0;
  return function () {
    a = (a + 0x6d2b79f5) | 0;
    var t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function __pair(x, op) {
  if (!Array.isArray(x) || x.length !== 2) {
    var shown;
    try { shown = JSON.stringify(x); } catch (e) { shown = String(x); }
    throw new TypeError(op + '() works on pair RDDs of [key, value] arrays; got the record ' + (shown === undefined ? String(x) : shown).slice(0, 200));
  }
  return x;
}

function __iterate(r, op) {
  if (r === null || r === undefined || typeof r[Symbol.iterator] !== 'function') {
    throw new TypeError('the function passed to ' + op + '() must return an iterable (such as an array), got ' + (r === null ? 'null' : typeof r));
  }
  return r;
}

function __step(rows, s, partition) {
  var out = [], i, n = rows.length, fn = s.fn, ctx = s.ctx;
  switch (s.op) {
    case 'map': out = new Array(n); for (i = 0; i < n; i++) out[i] = fn(rows[i], ctx); return out;
    case 'filter': for (i = 0; i < n; i++) if (fn(rows[i], ctx)) out.push(rows[i]); return out;
    case 'flatMap':
      for (i = 0; i < n; i++) for (var y of __iterate(fn(rows[i], ctx), 'flatMap')) out.push(y);
      return out;
    case 'mapPartitions': for (var z of __iterate(fn(rows, ctx), 'mapPartitions')) out.push(z); return out;
    case 'foreachPartition': fn(rows, ctx); return [];
    case 'keyBy': out = new Array(n); for (i = 0; i < n; i++) out[i] = [fn(rows[i], ctx), rows[i]]; return out;
    case 'mapValues':
      out = new Array(n);
      for (i = 0; i < n; i++) { var p = __pair(rows[i], 'mapValues'); out[i] = [p[0], fn(p[1], ctx)]; }
      return out;
    case 'flatMapValues':
      for (i = 0; i < n; i++) { var q = __pair(rows[i], 'flatMapValues'); for (var w of __iterate(fn(q[1], ctx), 'flatMapValues')) out.push([q[0], w]); }
      return out;
    case 'sample': {
      var rand = __rng(__hash('sample:' + s.seed + ':' + partition));
      if (!s.withReplacement) { for (i = 0; i < n; i++) if (rand() < s.fraction) out.push(rows[i]); return out; }
      var limit = Math.exp(-s.fraction);
      for (i = 0; i < n; i++) {
        var k = 0, prod = rand();
        while (prod > limit) { k++; prod *= rand(); }
        for (var c = 0; c < k; c++) out.push(rows[i]);
      }
      return out;
    }
    case 'combine': {
      // Per key: the first value (or a copy of the zero value, folded with it) then fn(acc, value).
      var accs = new Map();
      for (i = 0; i < n; i++) {
        var kv = __pair(rows[i], s.name), key = __keyOf(kv[0]), e = accs.get(key);
        if (e === undefined) accs.set(key, [kv[0], s.hasZero ? fn(__clone(s.zero), kv[1], ctx) : kv[1]]);
        else e[1] = fn(e[1], kv[1], ctx);
      }
      return Array.from(accs.values());
    }
    case 'group': {
      var groups = new Map();
      for (i = 0; i < n; i++) {
        var g = __pair(rows[i], 'groupByKey'), gk = __keyOf(g[0]), ge = groups.get(gk);
        if (ge === undefined) groups.set(gk, [g[0], [g[1]]]);
        else ge[1].push(g[1]);
      }
      return Array.from(groups.values());
    }
    case 'dedupe': {
      var seen = new Map();
      for (i = 0; i < n; i++) { var dk = __keyOf(rows[i]); if (!seen.has(dk)) seen.set(dk, rows[i]); }
      return Array.from(seen.values());
    }
    case 'join': {
      // rows: [side, [key, value]] with side 0 (left) or 1 (right).
      var sides = new Map(), order = [];
      for (i = 0; i < n; i++) {
        var side = rows[i][0], jp = rows[i][1], jk = __keyOf(jp[0]), je = sides.get(jk);
        if (je === undefined) { je = [jp[0], [], []]; sides.set(jk, je); order.push(je); }
        je[side + 1].push(jp[1]);
      }
      for (var t = 0; t < order.length; t++) {
        var ent = order[t], ls = ent[1], rs = ent[2];
        if (ls.length === 0 && (s.how === 'inner' || s.how === 'left')) continue;
        if (rs.length === 0 && (s.how === 'inner' || s.how === 'right')) continue;
        var lv = ls.length ? ls : [null], rv = rs.length ? rs : [null];
        for (var a = 0; a < lv.length; a++) for (var b = 0; b < rv.length; b++) out.push([ent[0], [lv[a], rv[b]]]);
      }
      return out;
    }
    case 'cogroup': {
      var groupsBySide = new Map(), cg = [];
      for (i = 0; i < n; i++) {
        var cside = rows[i][0], cp = rows[i][1], ck = __keyOf(cp[0]), ce = groupsBySide.get(ck);
        if (ce === undefined) { ce = [cp[0], [[], []]]; groupsBySide.set(ck, ce); cg.push(ce); }
        ce[1][cside].push(cp[1]);
      }
      return cg;
    }
    case 'sortByKey': {
      var sorted = rows.slice();
      var dir = s.ascending ? 1 : -1;
      sorted.sort(function (x, y) { return dir * __compare(x[0], y[0]); });
      return sorted;
    }
    case 'values': out = new Array(n); for (i = 0; i < n; i++) out[i] = rows[i][1]; return out;
    case 'keys': out = new Array(n); for (i = 0; i < n; i++) out[i] = __pair(rows[i], 'keys')[0]; return out;
    case 'partitionReduce': {
      var acc = s.hasZero ? __clone(s.zero) : undefined, have = s.hasZero;
      for (i = 0; i < n; i++) {
        if (!have) { acc = rows[i]; have = true; }
        else acc = fn(acc, rows[i], ctx);
      }
      return have ? [acc] : [];
    }
    case 'bucket': {
      var buckets = new Array(s.partitions);
      for (i = 0; i < s.partitions; i++) buckets[i] = [];
      for (i = 0; i < n; i++) {
        var r = rows[i], target;
        if (s.by === 'round_robin') target = (partition + i) % s.partitions;
        else target = __hash(__keyOf(s.by === 'key' ? __pair(r, s.name)[0] : r)) % s.partitions;
        buckets[target].push(r);
      }
      return buckets;
    }
    case 'rangeBucket': {
      var rb = new Array(s.partitions), bounds = s.boundKeys;
      for (i = 0; i < s.partitions; i++) rb[i] = [];
      for (i = 0; i < n; i++) {
        var lo = 0, hi = bounds.length;
        while (lo < hi) { var mid = (lo + hi) >> 1; if (__compare(bounds[mid], rows[i][0]) < 0) lo = mid + 1; else hi = mid; }
        rb[s.ascending ? lo : s.partitions - 1 - lo].push(rows[i]);
      }
      return rb;
    }
    case 'sampleKeys': {
      var take = Math.min(n, s.count), keys = new Array(take);
      for (i = 0; i < take; i++) keys[i] = rows[Math.floor((i * n) / take)][0];
      return keys;
    }
    default:
      throw new Error('unknown step ' + s.op);
  }
}

/** Runs steps over one partition's records; a failing step is reported with its index. */
function __runSteps(records, steps, partition) {
  var rows = records;
  for (var i = 0; i < steps.length; i++) {
    try {
      rows = __step(rows, steps[i], partition);
    } catch (e) {
      throw { __squallStep: i, error: e };
    }
  }
  return rows;
}
`;
