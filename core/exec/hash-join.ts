// Hash join. The build side is gathered into one batch and indexed: build rows → key ids (KeyIndex), then rows
// grouped by key id in CSR form (offsets per key + row numbers, in input order). Probe batches stream through:
// key lookups give a key id per row, matching pairs are generated in chunks of ctx.batchSize and gathered with
// takeData (index -1 gives the NULL row of an outer side). A residual predicate, evaluated over left+right
// columns of candidate pairs, decides what matches — also for outer, semi and anti joins. Joins without keys
// (cross joins, non-equi joins) treat the whole build side as one key.
import type * as arrow from 'apache-arrow';
import { type ColumnData, columnData, concatBatches, emptyData } from '../arrow/column.ts';
import { toArrowSchema, toArrowType } from '../types/arrow-types.ts';
import { typeEquals, typeToString } from '../types/data-type.ts';
import { ExecutionError } from '../types/errors.ts';
import { type Schema, field, schema } from '../types/schema.ts';
import { outputBatch } from './batch-utils.ts';
import { gather } from './gather.ts';
import { KeyIndex } from './hash/key-index.ts';
import { type BatchPredicate, type ExecContext, type PhysicalOperator, checkCancelled } from './operator.ts';

export type JoinType = 'inner' | 'left' | 'right' | 'full' | 'semi' | 'anti' | 'cross';

export interface HashJoinOptions {
  readonly joinType: JoinType;
  /** Equi-join key columns of the left input; paired with `rightKeys` (same types). Empty for cross joins. */
  readonly leftKeys: readonly number[];
  readonly rightKeys: readonly number[];
  /** Extra condition over the combined left+right columns; a pair matches only where it is TRUE. */
  readonly residual?: BatchPredicate;
  /** Which input is gathered into the hash table; the other streams. */
  readonly buildSide: 'left' | 'right';
}

type Chunk = readonly [probe: Int32Array, build: Int32Array, count: number];

/**
 * Pairs (probe row, build row) for probe rows with key id `pg[i]`, in chunks of at most `size` (the buffers are
 * reused: consume a chunk before asking for the next). `outer` adds (i, -1) for probe rows without a key match.
 */
function* pairChunks(
  pg: Int32Array,
  n: number,
  starts: Int32Array,
  rows: Int32Array,
  size: number,
  outer: boolean,
  groupMatched: Uint8Array | null,
): Generator<Chunk> {
  const P = new Int32Array(size);
  const B = new Int32Array(size);
  let m = 0;
  for (let i = 0; i < n; i++) {
    const g = pg[i]!;
    if (g < 0) {
      if (outer) {
        P[m] = i;
        B[m] = -1;
        if (++m === size) {
          yield [P, B, m];
          m = 0;
        }
      }
      continue;
    }
    if (groupMatched !== null) groupMatched[g] = 1;
    for (let r = starts[g]!, e = starts[g + 1]!; r < e; r++) {
      P[m] = i;
      B[m] = rows[r]!;
      if (++m === size) {
        yield [P, B, m];
        m = 0;
      }
    }
  }
  if (m > 0) yield [P, B, m];
}

export class HashJoinExec implements PhysicalOperator {
  readonly name = 'HashJoin';
  readonly children: readonly PhysicalOperator[];
  readonly schema: Schema;
  /** left fields then right fields, as the residual sees them. */
  private readonly combined: Schema;

  constructor(
    readonly left: PhysicalOperator,
    readonly right: PhysicalOperator,
    readonly options: HashJoinOptions,
  ) {
    const { joinType, leftKeys, rightKeys } = options;
    this.children = [left, right];
    if (leftKeys.length !== rightKeys.length) {
      throw new ExecutionError(`HashJoin: ${leftKeys.length} left keys but ${rightKeys.length} right keys`);
    }
    if (joinType === 'cross' && leftKeys.length > 0) throw new ExecutionError('HashJoin: a cross join takes no keys');
    const lf = left.schema.fields;
    const rf = right.schema.fields;
    leftKeys.forEach((l, i) => {
      const r = rightKeys[i]!;
      const a = lf[l];
      const b = rf[r];
      if (!a || !b) throw new ExecutionError(`HashJoin: key pair ${i} refers to a missing column (#${l} left, #${r} right)`);
      if (!typeEquals(a.type, b.type)) {
        throw new ExecutionError(
          `HashJoin: key '${a.name}' is ${typeToString(a.type)} but '${b.name}' is ${typeToString(b.type)}; the planner must cast join keys to one type`,
        );
      }
    });
    this.combined = schema([...lf, ...rf]);
    const leftNullable = joinType === 'right' || joinType === 'full';
    const rightNullable = joinType === 'left' || joinType === 'full';
    const lout = lf.map((f) => field(f.name, f.type, f.nullable || leftNullable, f.qualifier));
    const rout = rf.map((f) => field(f.name, f.type, f.nullable || rightNullable, f.qualifier));
    this.schema = schema(joinType === 'semi' || joinType === 'anti' ? lout : [...lout, ...rout]);
  }

  describe(): string {
    const { joinType, leftKeys, rightKeys, residual, buildSide } = this.options;
    const keys = leftKeys.map((l, i) => `#${l} = #${rightKeys[i]}`).join(', ');
    return `${joinType}, keys=[${keys}]${residual ? ', residual' : ''}, build=${buildSide}`;
  }

  async *execute(ctx: ExecContext): AsyncIterable<arrow.RecordBatch> {
    const { joinType, leftKeys, rightKeys, residual, buildSide } = this.options;
    const buildLeft = buildSide === 'left';
    const buildOp = buildLeft ? this.left : this.right;
    const probeOp = buildLeft ? this.right : this.left;
    const buildKeys = buildLeft ? leftKeys : rightKeys;
    const probeKeys = buildLeft ? rightKeys : leftKeys;
    const size = Math.max(1, ctx.batchSize);

    const semiAnti = joinType === 'semi' || joinType === 'anti';
    const leftOuter = joinType === 'left' || joinType === 'full';
    const rightOuter = joinType === 'right' || joinType === 'full';
    const probeOuter = buildLeft ? rightOuter : leftOuter;
    const buildOuter = buildLeft ? leftOuter : rightOuter;
    // Semi/anti output left rows: decided per probe batch when left probes, at the end when left builds.
    const probeDecides = semiAnti && !buildLeft;
    const buildDecides = semiAnti && buildLeft;
    const trackBuild = buildOuter || buildDecides;

    // ---- build ----
    const buildBatches: arrow.RecordBatch[] = [];
    for await (const b of buildOp.execute(ctx)) {
      checkCancelled(ctx);
      if (b.numRows > 0) buildBatches.push(b);
    }
    const build = concatBatches(buildBatches[0]?.schema ?? toArrowSchema(buildOp.schema), buildBatches);
    const nb = build.numRows;
    if (nb === 0 && !probeOuter && !(probeDecides && joinType === 'anti')) return;

    const buildCols = buildOp.schema.fields.map((_, i) => columnData(build, i));
    const probeWidth = probeOp.schema.fields.length;
    const keyed = buildKeys.length > 0;
    const keyIndex = keyed ? new KeyIndex(buildKeys.map((k) => buildOp.schema.fields[k]!.type), 'join key') : null;
    // Key id per build row, and build rows grouped by key id (CSR).
    let buildGid: Int32Array;
    let groups: number;
    if (keyIndex) {
      buildGid = keyIndex.insert(buildKeys.map((k) => buildCols[k]!), nb).slice(0, nb);
      groups = keyIndex.size;
      keyIndex.freeze();
    } else {
      buildGid = new Int32Array(nb);
      groups = nb > 0 ? 1 : 0;
    }
    const starts = new Int32Array(groups + 1);
    for (let r = 0; r < nb; r++) starts[buildGid[r]! + 1]!++;
    for (let g = 0; g < groups; g++) starts[g + 1]! += starts[g]!;
    const rows = new Int32Array(nb);
    const fill = starts.slice(0, groups);
    for (let r = 0; r < nb; r++) rows[fill[buildGid[r]!]!++] = r;

    const groupMatched = trackBuild && !residual ? new Uint8Array(groups) : null;
    const buildMatched = trackBuild && residual ? new Uint8Array(nb) : null;

    // Probe columns for build rows without a match: only ever gathered with index -1 (NULL rows).
    const emptyProbe = probeOp.schema.fields.map((f) => emptyData(toArrowType(f.type)));
    const pairBatch = (probe: arrow.RecordBatch | null, p: Int32Array, b: Int32Array, m: number, s: Schema): arrow.RecordBatch => {
      const pi = p.subarray(0, m);
      const bi = b.subarray(0, m);
      const probeCols: ColumnData[] = [];
      for (let c = 0; c < probeWidth; c++) {
        probeCols.push(probe ? gather(columnData(probe, c), pi, false) : gather(emptyProbe[c]!, pi));
      }
      const buildTaken = buildCols.map((d) => gather(d, bi, probeOuter));
      const cols = buildLeft ? [...buildTaken, ...probeCols] : [...probeCols, ...buildTaken];
      return outputBatch(s, cols, m);
    };
    const leftRows = (batch: arrow.RecordBatch, pick: Int32Array): arrow.RecordBatch => {
      const cols = this.schema.fields.map((_, c) => gather(columnData(batch, c), pick, false));
      return outputBatch(this.schema, cols, pick.length);
    };

    // ---- probe ----
    let pgBuf = new Int32Array(0);
    for await (const probe of probeOp.execute(ctx)) {
      checkCancelled(ctx);
      const n = probe.numRows;
      if (n === 0) continue;
      let pg: Int32Array;
      if (keyIndex) {
        pg = keyIndex.find(
          probeKeys.map((k) => columnData(probe, k)),
          n,
        );
      } else {
        if (pgBuf.length < n) pgBuf = new Int32Array(n);
        pgBuf.fill(groups > 0 ? 0 : -1, 0, n);
        pg = pgBuf;
      }

      if (!residual) {
        if (semiAnti) {
          if (probeDecides) {
            const want = joinType === 'semi';
            const pick = new Int32Array(n);
            let m = 0;
            for (let i = 0; i < n; i++) if (pg[i]! >= 0 === want) pick[m++] = i;
            if (m > 0) yield leftRows(probe, pick.subarray(0, m));
          } else {
            for (let i = 0; i < n; i++) if (pg[i]! >= 0) groupMatched![pg[i]!] = 1;
          }
          continue;
        }
        for (const [p, b, m] of pairChunks(pg, n, starts, rows, size, probeOuter, groupMatched)) {
          yield pairBatch(probe, p, b, m, this.schema);
        }
        continue;
      }

      // With a residual: candidates are checked in chunks, then the unmatched probe rows follow.
      const probeMatched = probeOuter || probeDecides ? new Uint8Array(n) : null;
      for (const [p, b, m] of pairChunks(pg, n, starts, rows, size, false, null)) {
        const candidates = pairBatch(probe, p, b, m, this.combined);
        const sel = residual.select(candidates);
        if (sel.length === 0) continue;
        for (let j = 0; j < sel.length; j++) {
          const k = sel[j]!;
          if (probeMatched) probeMatched[p[k]!] = 1;
          if (buildMatched) buildMatched[b[k]!] = 1;
        }
        if (!semiAnti) {
          const sp = new Int32Array(sel.length);
          const sb = new Int32Array(sel.length);
          for (let j = 0; j < sel.length; j++) {
            sp[j] = p[sel[j]!]!;
            sb[j] = b[sel[j]!]!;
          }
          yield pairBatch(probe, sp, sb, sel.length, this.schema);
        }
      }
      if (probeMatched) {
        const want = probeDecides ? (joinType === 'semi' ? 1 : 0) : 0;
        const pick = new Int32Array(n);
        let m = 0;
        for (let i = 0; i < n; i++) if (probeMatched[i] === want) pick[m++] = i;
        if (m === 0) continue;
        if (probeDecides) yield leftRows(probe, pick.subarray(0, m));
        else {
          for (let s = 0; s < m; s += size) {
            const e = Math.min(m, s + size);
            yield pairBatch(probe, pick.subarray(s, e), new Int32Array(e - s).fill(-1), e - s, this.schema);
          }
        }
      }
    }

    // ---- unmatched (or, for semi/anti with a left build, matched) build rows ----
    if (!trackBuild) return;
    const matched = (r: number) => (buildMatched ? buildMatched[r] === 1 : groupMatched![buildGid[r]!] === 1);
    const want = joinType === 'semi';
    const pick = new Int32Array(nb);
    let m = 0;
    for (let r = 0; r < nb; r++) if (matched(r) === want) pick[m++] = r;
    for (let s = 0; s < m; s += size) {
      checkCancelled(ctx);
      const e = Math.min(m, s + size);
      const br = pick.subarray(s, e);
      if (buildDecides) yield leftRows(build, br);
      else yield pairBatch(null, new Int32Array(e - s).fill(-1), br, e - s, this.schema);
    }
  }
}
