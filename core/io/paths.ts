// Expanding user paths into data files: a file, a directory (recursively, as Spark reads Hive-style
// `key=value` trees), or a glob with `*`, `?`, `[...]` and `**`. Hidden and bookkeeping names are skipped.
import { DataError } from '../types/errors.ts';
import { type FileStore, isRemotePath, localPath, storeFor } from './file-store.ts';
import { OUTPUT_MARKERS, readManifest } from './output-manifest.ts';

/**
 * Names a reader never treats as data: dot files (`.crc`, our `.squall-*` temporaries), and `_`-prefixed
 * bookkeeping (`_SUCCESS`, `_temporary`, `_metadata`) unless it is a partition directory like `_c=1`, as Spark does.
 */
export function isHiddenName(name: string): boolean {
  if (name.startsWith('.')) return true;
  if (name.startsWith('_') && !name.includes('=')) return true;
  return name.endsWith('._COPYING_');
}

const GLOB_CHARS = /[*?[]/;

/** The files that `paths` name, in a stable order (each path's matches sorted), without duplicates. */
export async function expandPaths(paths: string | readonly string[]): Promise<string[]> {
  const list = typeof paths === 'string' ? [paths] : paths;
  if (list.length === 0) throw new DataError('no input path given');
  const seen = new Set<string>();
  const out: string[] = [];
  for (const raw of list) {
    for (const f of await expandOne(raw)) {
      if (!seen.has(f)) {
        seen.add(f);
        out.push(f);
      }
    }
  }
  return out;
}

async function expandOne(raw: string): Promise<string[]> {
  const store = storeFor(raw);
  // Object-store URIs keep their scheme; a trailing '/' names the same prefix as none.
  const path = isRemotePath(raw) ? raw.replace(/^s3a:/i, 's3:').replace(/(?<=^s3:\/\/.+?)\/+$/i, '') : localPath(raw);
  if (GLOB_CHARS.test(path)) {
    const files = await expandGlob(store, path);
    if (files.length === 0) throw new DataError(`path '${raw}' matches no files`);
    return files;
  }
  const info = await store.stat(path);
  if (!info) throw new DataError(`path '${raw}' does not exist`);
  if (info.kind === 'file') return [path];
  const files = await listDataFiles(store, path);
  if (files.length === 0) throw new DataError(`directory '${raw}' contains no data files`);
  return files;
}

/**
 * All non-hidden files under `dir`, recursively, sorted by path. On an object store a Squall output directory
 * is read through its commit record (see output-manifest.ts): with a `_SUCCESS` manifest only the files it
 * lists, and while an uncommitted write's `_temporary/` marker is there without one, nothing (DataError).
 */
export async function listDataFiles(store: FileStore, dir: string): Promise<string[]> {
  const entries = await store.list(dir);
  if (store.remote) {
    const manifest = entries.some((e) => e.name === OUTPUT_MARKERS.success && e.kind === 'file') ? await readManifest(store, dir) : null;
    if (manifest) return manifest.files.map((f) => store.join(dir, f)).sort();
    // The marker is looked up directly rather than in the delimiter listing: s3rver leaves out a common prefix
    // whose objects all lie two or more levels down (`_temporary/<job>/part-*`); S3 itself lists it.
    const success = entries.some((e) => e.name === OUTPUT_MARKERS.success);
    if (!success && (await store.stat(store.join(dir, OUTPUT_MARKERS.temporary)))?.kind === 'dir') {
      throw new DataError(
        `directory '${dir}' holds an output that is being written or whose write failed (it has ${OUTPUT_MARKERS.temporary}/ and no ${OUTPUT_MARKERS.success}); read it once the write has committed`,
      );
    }
  }
  const out: string[] = [];
  for (const e of entries) {
    if (isHiddenName(e.name)) continue;
    const p = store.join(dir, e.name);
    if (e.kind === 'dir') out.push(...(await listDataFiles(store, p)));
    else out.push(p);
  }
  return out;
}

async function expandGlob(store: FileStore, full: string): Promise<string[]> {
  // An object-store URI walks from its bucket (`s3://bucket`); the key is matched like a relative path.
  const root = /^s3:\/\/[^/]+/i.exec(full)?.[0];
  const pattern = root !== undefined ? full.slice(root.length).replace(/^\/+/, '') : full;
  const absolute = pattern.startsWith('/');
  const segments = pattern.split('/').filter((s, i) => s !== '' || i === 0);
  // The literal prefix (directories before the first segment with a wildcard) is where walking starts.
  const firstGlob = segments.findIndex((s) => GLOB_CHARS.test(s));
  const prefix = segments.slice(0, firstGlob).filter((s) => s !== '');
  let base = root !== undefined ? store.join(root, ...prefix) : (absolute ? '/' : '') + prefix.join('/');
  if (base === '') base = '.';
  const rest = segments.slice(firstGlob).map(compileSegment);
  const info = await store.stat(base);
  if (!info || info.kind !== 'dir') return [];
  const matched: string[] = [];
  await walk(store, base, rest, matched, base === '.' && !pattern.startsWith('./'));
  const files: string[] = [];
  for (const m of matched.sort()) {
    const s = await store.stat(m);
    // A glob that names directories reads all the data files inside them.
    if (s?.kind === 'dir') files.push(...(await listDataFiles(store, m)));
    else if (s) files.push(m);
  }
  return files;
}

type Segment = { kind: 'any-depth' } | { kind: 'name'; re: RegExp; dotOk: boolean };

function compileSegment(s: string): Segment {
  if (s === '**') return { kind: 'any-depth' };
  let re = '^';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const close = s.indexOf(']', i + 2);
      if (close < 0) re += '\\[';
      else {
        let body = s.slice(i + 1, close);
        if (body.startsWith('!')) body = '^' + body.slice(1);
        re += `[${body.replace(/\\/g, '\\\\')}]`;
        i = close;
      }
    } else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return { kind: 'name', re: new RegExp(re + '$'), dotOk: s.startsWith('.') };
}

async function walk(store: FileStore, dir: string, rest: Segment[], out: string[], relative: boolean): Promise<void> {
  const seg = rest[0];
  if (!seg) return;
  const join = (name: string) => (relative ? name : store.join(dir, name));
  let entries;
  try {
    entries = await store.list(dir);
  } catch {
    return;
  }
  if (seg.kind === 'any-depth') {
    // `**` matches zero directories (try the rest here) or one more (recurse with `**` still in front).
    await walk(store, dir, rest.slice(1), out, relative);
    for (const e of entries) {
      if (e.kind === 'dir' && !isHiddenName(e.name)) await walk(store, join(e.name), rest, out, false);
    }
    return;
  }
  for (const e of entries) {
    if (!seg.re.test(e.name)) continue;
    if (!seg.dotOk && isHiddenName(e.name)) continue;
    const p = join(e.name);
    if (rest.length === 1) out.push(p);
    else if (e.kind === 'dir') await walk(store, p, rest.slice(1), out, false);
  }
}

/** Hive partition values (`key=value` directory names) on the path from `root` down to `file`. */
export function partitionValues(root: string, file: string): Record<string, string> {
  const rel = file.startsWith(root) ? file.slice(root.length) : file;
  const out: Record<string, string> = {};
  const parts = rel.split('/').filter(Boolean);
  for (const p of parts.slice(0, -1)) {
    const eq = p.indexOf('=');
    if (eq > 0) out[decodeURIComponent(p.slice(0, eq))] = decodeURIComponent(p.slice(eq + 1));
  }
  return out;
}
