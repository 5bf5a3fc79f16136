// What running a plan's scans costs, for choosing between one pipeline and tasks on threads: the bytes the scans
// must decode, and whether a limit stops them early.
import { parquetFileMeta } from '../io/parquet-reader.ts';
import { type PhysicalPlan, physicalInputs } from './physical-plan.ts';

/**
 * Bytes the plan's file scans decode: for Parquet the compressed size of the column chunks of the columns they
 * read (none for count(*)), for CSV and JSON the files' sizes (`fileSizes`).
 */
export async function bytesToDecode(plan: PhysicalPlan, fileSizes: ReadonlyMap<string, number>): Promise<number> {
  let total = 0;
  const scans: Extract<PhysicalPlan, { kind: 'file_scan' }>[] = [];
  const walk = (p: PhysicalPlan) => {
    if (p.kind === 'file_scan') scans.push(p);
    physicalInputs(p).forEach(walk);
  };
  walk(plan);
  for (const scan of scans) {
    for (const path of scan.source.paths) {
      if (scan.source.format !== 'parquet') {
        total += fileSizes.get(path) ?? 0;
        continue;
      }
      const meta = await parquetFileMeta(path);
      const wanted = scan.projection === null ? null : new Set(scan.projection);
      const leaves = meta.leaves.filter((l) => wanted === null || wanted.has(l.name.split('.')[0]!));
      for (const rg of meta.rowGroups) for (const l of leaves) total += rg.chunks[l.index]?.length ?? 0;
    }
  }
  return total;
}

/**
 * Whether the plan ends in a limit over operators that stream (filters, projections, unions of scans): one
 * pipeline then stops after the first rows, where tasks would each start reading their share.
 */
export function limitStopsEarly(plan: PhysicalPlan): boolean {
  switch (plan.kind) {
    case 'limit':
      return streams(plan.input);
    case 'project':
    case 'filter':
      return limitStopsEarly(plan.input);
    default:
      return false;
  }
}

function streams(p: PhysicalPlan): boolean {
  switch (p.kind) {
    case 'file_scan':
    case 'memory_scan':
      return true;
    case 'project':
    case 'filter':
    case 'limit':
      return streams(p.input);
    case 'union':
      return p.inputs.every(streams);
    default:
      return false;
  }
}

/**
 * Whether the plan is one that tasks on threads run faster than one pipeline: scans, filters, projections and
 * aggregations (partial aggregates shrink the data before it crosses threads), with sorts only of aggregated
 * rows or for top-k. Joins, windows and full sorts move their whole input between threads as Arrow IPC, which
 * measured slower on two cores than one pipeline whose Parquet decoding is already on worker threads (TPC-H
 * Q18 5.7 s against 4.0 s at SF1).
 */
export function gainsFromThreads(p: PhysicalPlan): boolean {
  switch (p.kind) {
    case 'file_scan':
    case 'memory_scan':
    case 'stage_input':
      return true;
    case 'filter':
    case 'project':
    case 'limit':
    case 'exchange':
    case 'union':
      return physicalInputs(p).every(gainsFromThreads);
    case 'hash_aggregate':
      return gainsFromThreads(p.input);
    case 'sort':
      return (p.limit !== null || containsAggregate(p.input)) && gainsFromThreads(p.input);
    case 'hash_join':
    case 'window':
    case 'rdd':
    case 'apply_model':
      return false;
  }
}

function containsAggregate(p: PhysicalPlan): boolean {
  return p.kind === 'hash_aggregate' || physicalInputs(p).some(containsAggregate);
}
