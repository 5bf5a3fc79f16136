// Worker-thread scripts as self-contained ES modules, for deployments that bundle the code. Locally the pools
// start `decode-worker.mjs`, which loads the TypeScript module through tsx; a Lambda bundle has neither tsx nor
// the module next to it, so sst.config.ts ships this bundle with the executor and points the decoder at it
// (SQUALL_PARQUET_WORKER). Without it the executor would decode on one thread whatever its vCPUs.
import * as path from 'node:path';
import { build } from 'esbuild';

const ROOT = path.resolve(import.meta.dirname, '../..');

/** The bundles, by output file name: what each worker thread runs. */
export const WORKER_BUNDLES = {
  'parquet-decode-worker.mjs': 'core/io/parquet/decode-worker.ts',
} as const;

export type WorkerBundleName = keyof typeof WORKER_BUNDLES;

/** Writes every worker bundle into `outDir` and returns their paths by name. */
export async function buildWorkerBundles(outDir: string): Promise<Record<WorkerBundleName, string>> {
  const out = {} as Record<WorkerBundleName, string>;
  for (const [name, entry] of Object.entries(WORKER_BUNDLES) as [WorkerBundleName, string][]) {
    const outfile = path.join(outDir, name);
    await build({
      entryPoints: [path.join(ROOT, entry)],
      outfile,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      logLevel: 'silent',
    });
    out[name] = outfile;
  }
  return out;
}

/** `tsx infra/build/worker-bundles.ts <outDir>`: builds the bundles (sst.config.ts calls buildWorkerBundles itself). */
if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(import.meta.filename)) {
  const outDir = process.argv[2] ?? path.join(ROOT, '.build/workers');
  const built = await buildWorkerBundles(outDir);
  for (const file of Object.values(built)) console.log(file);
}
