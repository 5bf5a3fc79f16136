// An RDD action in a remote session: one job through the HTTP API whose spec is the lineage (`{ rdd }`, see
// ./remote-stages.ts), run by the coordinator and executors like a DataFrame job. The result rows are chunks of
// serialized records tagged with their partition; they come back through the API's result pages and are
// decoded here into the partitions' records. Metrics come from the job's stage status: every stage but the
// last is a shuffle map stage, whose bytes written are the shuffle bytes. Before the action's job, df.rdd sources
// run as DataFrame jobs (here) and persisted RDDs are read from or written to S3 cache entries (./remote-persist.ts).
import * as v8 from 'node:v8';
import { readManifest } from '../io/output-manifest.ts';
import { scanParquet } from '../io/parquet-reader.ts';
import { isRemotePath, storeFor } from '../io/file-store.ts';
import type { RemoteRunner } from '../sdk/remote.ts';
import { ExecutionError, UnsupportedError } from '../types/errors.ts';
import { type RddNode, type Step, inputsOf, mapInputs } from './lineage.ts';
import { substitutePersisted } from './remote-persist.ts';
import { rddJobJson } from './remote-stages.ts';
import type { JobMetrics } from './runner.ts';

/** Result rows per API page: a row is a chunk of at most ~256 KB of records (./stage-exec.ts), so a page stays near 1.4 MB of JSON. */
const PAGE_ROWS = 4;

function rejectLocalFiles(node: RddNode): void {
  if (node.kind === 'text_file') {
    for (const f of node.files) {
      if (!isRemotePath(f.path)) throw new UnsupportedError(`textFile('${f.path}') is a local file, which the executors of a remote session cannot read; put it on S3 (s3://…)`);
    }
  }
  inputsOf(node).forEach(rejectLocalFiles);
}

/** Runs `steps` after `node` on every partition as a job; the partitions' records, and the job's metrics added to `metrics`. */
export async function runRemoteRdd(
  runner: RemoteRunner,
  lineage: RddNode,
  steps: readonly Step[],
  metrics: JobMetrics,
  isPersisted: (id: number) => boolean = () => false,
  /** saveAsTextFile: the folder the result tasks write their parts into (each partition's records are then its line count). */
  textDir?: string,
): Promise<unknown[][]> {
  rejectLocalFiles(lineage);
  const node = await substitutePersisted(runner, await substituteDataFrames(runner, lineage), isPersisted, metrics);
  const jobOptions = runner.options.jobOptions;
  const info = await runner.run({ rdd: rddJobJson(node, steps, textDir), ...(jobOptions && Object.keys(jobOptions).length ? { options: jobOptions } : {}) });
  const last = info.stages[info.stages.length - 1];
  if (!last) throw new ExecutionError(`job ${info.jobId} reports no stages`);
  for (const s of info.stages) metrics.tasks += s.tasks;
  for (const s of info.stages.slice(0, -1)) {
    metrics.shuffles++;
    metrics.shuffleBytesWritten += s.bytesWritten;
    metrics.shuffleRecordsWritten += s.rows;
  }
  const partitions: unknown[][] = Array.from({ length: last.tasks }, () => []);
  for await (const { part, records } of resultRows(runner, info.jobId, info.result)) {
    const target = partitions[part];
    if (!target) throw new ExecutionError(`job ${info.jobId}'s result names partition ${part} of ${last.tasks}`);
    for (const x of v8.deserialize(Buffer.from(records, 'base64')) as unknown[]) target.push(x);
  }
  return partitions;
}

/**
 * The result's (part, records) rows in order: from the API's pages, or (`results: 's3'`) straight from the
 * result Parquet, which needs read access to it but no API round trip per few rows.
 */
async function* resultRows(runner: RemoteRunner, jobId: string, resultUri: string | null): AsyncIterable<{ part: number; records: string }> {
  if (runner.options.results === 's3' && resultUri) {
    const written = await readManifest(storeFor(resultUri), resultUri);
    if (!written) throw new ExecutionError(`job ${jobId} wrote no output manifest in ${resultUri}`);
    for (const f of [...written.files].sort()) {
      for await (const b of scanParquet([`${resultUri}/${f}`], { columns: ['part', 'records'] })) {
        const part = b.getChildAt(0)!;
        const records = b.getChildAt(1)!;
        for (let r = 0; r < b.numRows; r++) yield { part: part.get(r) as number, records: records.get(r) as string };
      }
    }
    return;
  }
  const { rows, columns } = await runner.client.result(jobId, { pageSize: PAGE_ROWS });
  const names = columns.map((c) => c.name).join(',');
  if (names !== 'part,bucket,records') throw new ExecutionError(`job ${jobId}'s result has columns (${names}), not an RDD's (part, bucket, records)`);
  for (const r of rows) yield { part: r['part'] as number, records: r['records'] as string };
}

/**
 * `node` with each df.rdd source replaced by the Parquet parts of a job that computed the DataFrame (its default
 * result folder under the jobs root, which the bucket's lifecycle rule expires): the parts, in task order, are
 * dealt in contiguous groups to the RDD's partitions.
 */
async function substituteDataFrames(runner: RemoteRunner, node: RddNode): Promise<RddNode> {
  const done = new Map<number, Promise<RddNode>>();
  const walk = (n: RddNode): Promise<RddNode> => {
    if (n.kind !== 'dataframe') return mapInputs(n, walk);
    let parts = done.get(n.id);
    if (!parts) {
      parts = (async () => {
        const info = await runner.run(runner.jobSpec(n.plan, undefined));
        if (!info.result) throw new ExecutionError(`job ${info.jobId} reports no result folder`);
        const written = await readManifest(storeFor(info.result), info.result);
        if (!written) throw new ExecutionError(`job ${info.jobId} wrote no output manifest in ${info.result}`);
        const files = written.files.map((f) => `${info.result}/${f}`);
        const partitions = Array.from({ length: n.partitions }, (_, i) => Object.freeze(files.slice(Math.floor((i * files.length) / n.partitions), Math.floor(((i + 1) * files.length) / n.partitions))));
        return Object.freeze({ kind: 'parquet_rows', id: n.id, partitions: Object.freeze(partitions) });
      })();
      done.set(n.id, parts);
    }
    return parts;
  };
  return walk(node);
}
