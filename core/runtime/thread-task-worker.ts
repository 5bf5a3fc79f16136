// Worker thread body of the parallel local runner: runs the tasks ./thread-pool.ts sends, one at a time, and
// transfers their encoded output back (see ./thread-task.ts).
import { parentPort } from 'node:worker_threads';
import { type ThreadTaskRequest, errorToData, runThreadTask } from './thread-task.ts';

// The pool already uses every core with one task per thread; a task decodes Parquet on its own thread rather
// than starting decoder threads of its own. (A worker's process.env is its own copy.)
process.env.SQUALL_PARQUET_THREADS = '0';

parentPort!.on('message', async (msg: { id: number; request: ThreadTaskRequest }) => {
  try {
    const { result, transfer } = await runThreadTask(msg.request);
    parentPort!.postMessage({ id: msg.id, result }, transfer);
  } catch (e) {
    parentPort!.postMessage({ id: msg.id, error: errorToData(e) });
  }
});
parentPort!.postMessage({ ready: true });
