// An RDD action in a remote session: one job through the HTTP API whose spec is the lineage (`{ rdd }`, see
// ./remote-stages.ts), run by the coordinator and executors like a DataFrame job. The result rows are chunks of
// serialized records tagged with their partition; they come back through the API's result pages and are
// decoded here into the partitions' records. Metrics come from the job's stage status: every stage but the
// last is a shuffle map stage, whose bytes written are the shuffle bytes.
import * as v8 from 'node:v8';
import { isRemotePath } from '../io/file-store.ts';
import type { RemoteRunner } from '../sdk/remote.ts';
import { ExecutionError, UnsupportedError } from '../types/errors.ts';
import type { RddNode, Step } from './lineage.ts';
import { rddJobJson } from './remote-stages.ts';
import type { JobMetrics } from './runner.ts';

/** Result rows per API page: a row is a chunk of up to 4,096 records, so pages stay well under the API's payload limit. */
const PAGE_ROWS = 16;

function rejectLocalFiles(node: RddNode): void {
  switch (node.kind) {
    case 'text_file':
      for (const f of node.files) {
        if (!isRemotePath(f.path)) throw new UnsupportedError(`textFile('${f.path}') is a local file, which the executors of a remote session cannot read; put it on S3 (s3://…)`);
      }
      return;
    case 'parallelize':
    case 'dataframe':
    case 'shuffle_read':
      return;
    case 'narrow':
    case 'coalesce':
      return rejectLocalFiles(node.input);
    case 'union':
      return node.inputs.forEach(rejectLocalFiles);
    case 'shuffle':
      return node.inputs.forEach((i) => rejectLocalFiles(i.input));
  }
}

/** Runs `steps` after `node` on every partition as a job; the partitions' records, and the job's metrics added to `metrics`. */
export async function runRemoteRdd(runner: RemoteRunner, node: RddNode, steps: readonly Step[], metrics: JobMetrics): Promise<unknown[][]> {
  rejectLocalFiles(node);
  const jobOptions = runner.options.jobOptions;
  const info = await runner.run({ rdd: rddJobJson(node, steps), ...(jobOptions && Object.keys(jobOptions).length ? { options: jobOptions } : {}) });
  const last = info.stages[info.stages.length - 1];
  if (!last) throw new ExecutionError(`job ${info.jobId} reports no stages`);
  for (const s of info.stages) metrics.tasks += s.tasks;
  for (const s of info.stages.slice(0, -1)) {
    metrics.shuffles++;
    metrics.shuffleBytesWritten += s.bytesWritten;
    metrics.shuffleRecordsWritten += s.rows;
  }
  const partitions: unknown[][] = Array.from({ length: last.tasks }, () => []);
  const { rows, columns } = await runner.client.result(info.jobId, { pageSize: PAGE_ROWS });
  const names = columns.map((c) => c.name).join(',');
  if (names !== 'part,bucket,records') throw new ExecutionError(`job ${info.jobId}'s result has columns (${names}), not an RDD's (part, bucket, records)`);
  for (const r of rows) {
    const part = r['part'] as number;
    const target = partitions[part];
    if (!target) throw new ExecutionError(`job ${info.jobId}'s result names partition ${part} of ${last.tasks}`);
    for (const x of v8.deserialize(Buffer.from(r['records'] as string, 'base64')) as unknown[]) target.push(x);
  }
  return partitions;
}
