// Saving and loading stages, after Spark's MLWriter/MLReader. A saved stage is a directory (a local path or an
// s3:// prefix) holding:
//
//   metadata.json              {"class","uid","version","squallVersion","timestamp","params","defaultParams",
//                               "extra","data":{name: dir},"stages":[dir]}   — written LAST: the commit point
//   data-<saveId>/<name>/      Parquet tables (coefficients, scaler mean/std, indexer labels), each written by
//                               the project's writer (core/io/writers.ts), which commits it atomically
//   stages-<saveId>/<i>_<uid>/ nested stages of a pipeline, each a saved stage of its own
//   files-<saveId>/<name>      files copied in as they are (an ONNX model), so the saved stage is self-contained
//
// Every save writes its data under fresh `<saveId>` names and then replaces metadata.json in one atomic step
// (a rename of a complete temporary file on local disks; a single PUT on S3), so a reader sees either the old
// stage or the new one, never a mix, and a save that fails leaves the old stage loadable. Overwriting removes the
// previous save's directories after the commit. Loading checks every metadata field it uses and names the file
// and the field when one is missing or wrong.
import { randomUUID } from 'node:crypto';
import type * as arrow from 'apache-arrow';
import { Session } from '../sdk/session.ts';
import { rowsToBatch } from '../sdk/from-rows.ts';
import type { Row } from '../sdk/rows.ts';
import { AnalysisError, DataError } from '../types/errors.ts';
import type { Schema } from '../types/schema.ts';
import { type FileStore, localPath, storeFor } from '../io/file-store.ts';
import { writeBatches } from '../io/writers.ts';
import type { PipelineStage, SaveOptions } from './base.ts';

export const METADATA_FILE = 'metadata.json';
export const FORMAT_VERSION = 1;
const SQUALL_VERSION = '0.1.0';

/** A small table a stage saves as Parquet. */
export interface DataTable {
  readonly schema: Schema;
  readonly rows: readonly Record<string, unknown>[];
}

export interface StageMetadata {
  readonly class: string;
  readonly uid: string;
  readonly version: number;
  readonly squallVersion: string;
  readonly timestamp: number;
  readonly params: Record<string, unknown>;
  readonly defaultParams: Record<string, unknown>;
  readonly extra: Record<string, unknown>;
  readonly data: Record<string, string>;
  readonly stages: readonly string[];
  /** Copied files by name: their paths relative to the stage. */
  readonly files: Record<string, string>;
}

/** What a loader gets: the validated metadata and access to the saved tables and nested stages. */
export interface LoadContext {
  readonly path: string;
  readonly metadataFile: string;
  readonly metadata: StageMetadata;
  readonly session: Session;
  /** A saved table's rows. */
  table(name: string): Promise<Row[]>;
  /** The nested stages, loaded. */
  stages(): Promise<PipelineStage[]>;
  /** Where the saved copy of file `name` is (a local path or an s3:// URI). */
  file(name: string): string;
  /** A value of `extra`, checked to be of `kind`. */
  extra(name: string, kind: 'number' | 'string' | 'boolean'): number | string | boolean;
}

export type StageLoader = (ctx: LoadContext) => PipelineStage | Promise<PipelineStage>;

const loaders = new Map<string, StageLoader>();

/** Makes `className` loadable; every stage module registers itself (importing core/ml/index.ts registers all). */
export function registerStage(className: string, loader: StageLoader): void {
  loaders.set(className, loader);
}

function rootOf(store: FileStore, path: string): string {
  return store.remote ? store.join(path) : localPath(path);
}

async function* oneBatch(b: arrow.RecordBatch): AsyncIterable<arrow.RecordBatch> {
  yield b;
}

export async function saveStage(stage: PipelineStage, path: string, options: SaveOptions = {}): Promise<void> {
  const store = storeFor(path);
  const root = rootOf(store, path);
  const metaFile = store.join(root, METADATA_FILE);
  const info = await store.stat(root);
  if (info?.kind === 'file') throw new DataError(`cannot save ${stage.uid} to '${path}': it is a file, not a directory`);
  const existing = info ? await store.stat(metaFile) : null;
  if (existing && !options.overwrite) {
    throw new DataError(`'${path}' already holds a saved stage (${metaFile}); save with { overwrite: true } to replace it`);
  }
  if (info && !existing && !options.overwrite && (await store.list(root)).length > 0) {
    throw new DataError(`cannot save ${stage.uid} to '${path}': the directory exists and is not a saved stage; choose another path or save with { overwrite: true }`);
  }
  // The previous save's directories, removed once this one commits (found through its metadata: an S3 listing
  // through s3rver can leave out prefixes whose objects all lie two or more levels down).
  const previous = new Set<string>();
  if (existing) {
    const old = await readMetadata(store, root, path).catch(() => null);
    for (const rel of [...Object.values(old?.metadata.data ?? {}), ...(old?.metadata.stages ?? []), ...Object.values(old?.metadata.files ?? {})]) previous.add(rel.split('/')[0]!);
  }
  await store.mkdir(root);
  const saveId = randomUUID().slice(0, 8);
  const written: string[] = [];
  try {
    const state = stage.saveState();
    const data: Record<string, string> = {};
    for (const [name, table] of Object.entries(state.data ?? {})) {
      const rel = `data-${saveId}/${name}`;
      written.push(store.join(root, `data-${saveId}`));
      await writeBatches(oneBatch(rowsToBatch(table.rows as Record<string, unknown>[], table.schema)), table.schema, store.join(root, rel), 'parquet', 'error');
      data[name] = rel;
    }
    const files: Record<string, string> = {};
    for (const [name, source] of Object.entries(state.files ?? {})) {
      if (!/^[\w.-]+$/.test(name)) throw new DataError(`${stage.uid}: saved file name '${name}' must be letters, digits, '.', '_' or '-'`);
      const rel = `files-${saveId}/${name}`;
      written.push(store.join(root, `files-${saveId}`));
      await store.mkdir(store.join(root, `files-${saveId}`));
      await copyFileAcross(source, store, store.join(root, rel));
      files[name] = rel;
    }
    const stages: string[] = [];
    for (const [i, sub] of (state.stages ?? []).entries()) {
      const rel = `stages-${saveId}/${i}_${sub.uid}`;
      written.push(store.join(root, `stages-${saveId}`));
      await saveStage(sub, store.join(root, rel), {});
      stages.push(rel);
    }
    const defaults: Record<string, unknown> = {};
    for (const n of stage.paramNames) {
      const d = (stage.specs as Record<string, { default?: unknown }>)[n]!.default;
      if (d !== undefined) defaults[n] = d;
    }
    const metadata: StageMetadata = {
      class: stage.className,
      uid: stage.uid,
      version: FORMAT_VERSION,
      squallVersion: SQUALL_VERSION,
      timestamp: Date.now(),
      params: stage.paramMap() as Record<string, unknown>,
      defaultParams: defaults,
      extra: { ...(state.extra ?? {}) },
      data,
      stages,
      files,
    };
    const text = JSON.stringify(metadata, null, 2) + '\n';
    if (store.remote) {
      await store.writeFile(metaFile, text); // one PUT: atomic
    } else {
      const tmp = store.join(root, `.${METADATA_FILE}.${saveId}.tmp`);
      await store.writeFile(tmp, text);
      await store.rename(tmp, metaFile); // atomic replace (POSIX rename)
    }
  } catch (e) {
    for (const d of new Set(written)) await store.remove(d).catch(() => {});
    throw e;
  }
  // Committed: the previous save's directories (and leftovers of failed saves) are no longer referenced.
  for (const e of await store.list(root)) if (SAVED_DIR.test(e.name)) previous.add(e.name);
  for (const name of previous) if (SAVED_DIR.test(name) && !name.endsWith(saveId)) await store.remove(store.join(root, name));
}

/** The directories one save writes (named after its saveId). */
const SAVED_DIR = /^(data|stages|files)-/;

/** Copies `source` (a local path, file:// or s3:// URI) to `target` in `targetStore`, which may be another store. */
async function copyFileAcross(source: string, targetStore: FileStore, target: string): Promise<void> {
  const from = storeFor(source);
  const path = rootOf(from, source);
  const info = await from.stat(path);
  if (!info || info.kind !== 'file') throw new DataError(`cannot copy '${source}' into the saved stage: it does not exist or is not a file`);
  // Whole-file read: the files saved so far are models of a few MB; a streamed copy would suit GB-sized ones.
  await targetStore.writeFile(target, await from.readRange(path, 0, info.size));
}

function fieldError(file: string, fieldName: string, problem: string): DataError {
  return new DataError(`'${file}': field '${fieldName}' ${problem}`);
}

async function readMetadata(store: FileStore, root: string, path: string): Promise<{ metaFile: string; metadata: StageMetadata }> {
  const metaFile = store.join(root, METADATA_FILE);
  const info = await store.stat(metaFile);
  if (!info || info.kind !== 'file') {
    throw new DataError(`cannot load a stage from '${path}': '${metaFile}' does not exist (nothing was saved there, or the save did not finish)`);
  }
  const text = new TextDecoder().decode(await store.readRange(metaFile, 0, info.size));
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new DataError(`'${metaFile}' is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new DataError(`'${metaFile}' must hold a JSON object`);
  const m = raw as Record<string, unknown>;
  const need = (name: string, kind: 'string' | 'number' | 'object' | 'array') => {
    const v = m[name];
    if (v === undefined) throw fieldError(metaFile, name, `is missing (expected ${kind === 'array' ? 'an array' : `a${kind === 'object' ? 'n' : ''} ${kind}`})`);
    const ok = kind === 'array' ? Array.isArray(v) : kind === 'object' ? typeof v === 'object' && v !== null && !Array.isArray(v) : typeof v === kind;
    if (!ok) throw fieldError(metaFile, name, `must be ${kind === 'array' ? 'an array' : `a${kind === 'object' ? 'n' : ''} ${kind}`}, got ${JSON.stringify(v)}`);
    return v;
  };
  need('class', 'string');
  need('uid', 'string');
  const version = need('version', 'number') as number;
  if (version !== FORMAT_VERSION) throw fieldError(metaFile, 'version', `is ${version}; this Squall reads version ${FORMAT_VERSION}`);
  need('params', 'object');
  const data = m.data === undefined ? {} : (need('data', 'object') as Record<string, unknown>);
  for (const [k, v] of Object.entries(data)) if (typeof v !== 'string') throw fieldError(metaFile, `data.${k}`, 'must be a string (a directory relative to the stage)');
  const stages = m.stages === undefined ? [] : (need('stages', 'array') as unknown[]);
  stages.forEach((v, i) => {
    if (typeof v !== 'string') throw fieldError(metaFile, `stages[${i}]`, 'must be a string (a directory relative to the stage)');
  });
  const extra = m.extra === undefined ? {} : need('extra', 'object');
  const files = m.files === undefined ? {} : (need('files', 'object') as Record<string, unknown>);
  for (const [k, v] of Object.entries(files)) if (typeof v !== 'string') throw fieldError(metaFile, `files.${k}`, 'must be a string (a path relative to the stage)');
  return {
    metaFile,
    metadata: {
      class: m.class as string,
      uid: m.uid as string,
      version,
      squallVersion: typeof m.squallVersion === 'string' ? m.squallVersion : '',
      timestamp: typeof m.timestamp === 'number' ? m.timestamp : 0,
      params: m.params as Record<string, unknown>,
      defaultParams: (m.defaultParams ?? {}) as Record<string, unknown>,
      extra: extra as Record<string, unknown>,
      data: data as Record<string, string>,
      stages: stages as string[],
      files: files as Record<string, string>,
    },
  };
}

export interface LoadOptions {
  /** Session used to read the Parquet data (a new local session by default). */
  readonly session?: Session;
}

/** Loads any saved stage; with `expectedClass`, fails unless the saved class is that one. */
export async function loadStage(path: string, options: LoadOptions = {}, expectedClass?: string): Promise<PipelineStage> {
  const store = storeFor(path);
  const root = rootOf(store, path);
  const { metaFile, metadata } = await readMetadata(store, root, path);
  const loader = loaders.get(metadata.class);
  if (!loader) {
    throw fieldError(metaFile, 'class', `names an unknown stage '${metadata.class}'. Known stages: ${[...loaders.keys()].sort().join(', ')} (import core/ml/index.ts to register them all)`);
  }
  if (expectedClass && metadata.class !== expectedClass) {
    throw fieldError(metaFile, 'class', `is '${metadata.class}', not '${expectedClass}'; load it with ${metadata.class}.load() or loadStage()`);
  }
  const session = options.session ?? Session.local();
  const ctx: LoadContext = {
    path,
    metadataFile: metaFile,
    metadata,
    session,
    table: async (name) => {
      const rel = metadata.data[name];
      if (rel === undefined) throw fieldError(metaFile, `data.${name}`, `is missing (a ${metadata.class} saves its '${name}' table there)`);
      const df = await session.read.parquet(store.join(root, rel));
      return df.collect();
    },
    stages: async () => {
      const out: PipelineStage[] = [];
      for (const rel of metadata.stages) out.push(await loadStage(store.join(root, rel), { session }));
      return out;
    },
    file: (name) => {
      const rel = metadata.files[name];
      if (rel === undefined) throw fieldError(metaFile, `files.${name}`, `is missing (a ${metadata.class} saves its '${name}' file there)`);
      return store.join(root, rel);
    },
    extra: (name, kind) => {
      const v = metadata.extra[name];
      if (v === undefined) throw fieldError(metaFile, `extra.${name}`, `is missing (expected a ${kind})`);
      if (typeof v !== kind) throw fieldError(metaFile, `extra.${name}`, `must be a ${kind}, got ${JSON.stringify(v)}`);
      return v as number | string | boolean;
    },
  };
  try {
    return await loader(ctx);
  } catch (e) {
    // A parameter value the stage refuses (set() checks each): say which file it came from.
    if (e instanceof AnalysisError) throw new DataError(`'${metaFile}': ${e.message}`, { cause: e });
    throw e;
  }
}
