// `squall cache list` and `squall cache drop <fingerprint|--all>`: the S3 cache entries persisted DataFrames of
// remote sessions leave (core/cache/s3-cache.ts), read and removed straight through S3 (SQUALL_S3_ENDPOINT,
// credentials…); the root is --root, SQUALL_CACHE_ROOT or s3://<SQUALL_BUCKET or squall>/cache.
import type { Command } from 'commander';
import { type ListedEntry, defaultCacheRoot, dropEntry, isExpired, listEntries, matchEntries } from '../cache/s3-cache.ts';
import { SquallError } from '../types/errors.ts';

function state(e: ListedEntry, now: number): 'live' | 'expired' | 'incomplete' {
  if (!e.manifest) return 'incomplete';
  return isExpired(e.manifest, now) ? 'expired' : 'live';
}

function size(n: number): string {
  return n < 1024 ? `${n} B` : n < 1 << 20 ? `${(n / 1024).toFixed(1)} KB` : `${(n / (1 << 20)).toFixed(1)} MB`;
}

export function registerCacheCommands(program: Command, print: (text: string) => void, env: NodeJS.ProcessEnv): void {
  const cache = program.command('cache').description('the S3 cache entries of persisted DataFrames (df.cache() in remote sessions)');
  const rootOf = (opts: { root?: string }) => opts.root ?? defaultCacheRoot(env);

  cache
    .command('list')
    .description('cache entries: fingerprint, kind (dataframe, rdd), state (live, expired, incomplete), rows, size, expiry, inputs')
    .option('--root <uri>', 'the cache root (default: $SQUALL_CACHE_ROOT or s3://$SQUALL_BUCKET/cache)')
    .option('--json', 'print JSON')
    .action(async (opts: { root?: string; json?: boolean }) => {
      const now = Date.now();
      const entries = await listEntries(rootOf(opts));
      if (opts.json) {
        print(JSON.stringify(entries.map((e) => ({ entry: e.entry, state: state(e, now), ...(e.manifest ?? {}) })), null, 2));
        return;
      }
      if (entries.length === 0) {
        print('(no cache entries)');
        return;
      }
      const rows = entries.map((e) => [
        e.entry,
        e.manifest?.kind ?? (e.manifest ? 'dataframe' : ''),
        state(e, now),
        e.manifest ? String(e.manifest.rows) : '',
        e.manifest ? size(e.manifest.bytes) : '',
        e.manifest?.expiresAt ?? '',
        e.manifest ? e.manifest.inputs.map((i) => i.path).join(', ') : '',
      ]);
      const head = ['FINGERPRINT', 'KIND', 'STATE', 'ROWS', 'SIZE', 'EXPIRES', 'INPUTS'];
      const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
      const line = (r: string[]) => r.map((c, i) => (i < r.length - 1 ? c.padEnd(widths[i]!) : c)).join('  ').trimEnd();
      print([line(head), ...rows.map(line)].join('\n'));
    });

  cache
    .command('drop')
    .description('remove cache entries: those whose fingerprint starts with the one given, the expired (and incomplete) ones, or all')
    .argument('[fingerprint]', "a fingerprint as 'squall cache list' shows it (or its plan part, or a unique prefix)")
    .option('--all', 'every entry')
    .option('--expired', 'expired and incomplete entries (what a lifecycle rule removes on AWS; s3rver has none)')
    .option('--root <uri>', 'the cache root (default: $SQUALL_CACHE_ROOT or s3://$SQUALL_BUCKET/cache)')
    .action(async (fingerprint: string | undefined, opts: { all?: boolean; expired?: boolean; root?: string }) => {
      if ([fingerprint !== undefined, opts.all === true, opts.expired === true].filter(Boolean).length !== 1) {
        throw new SquallError('give one of a fingerprint, --all and --expired');
      }
      const root = rootOf(opts);
      const entries = await listEntries(root);
      const now = Date.now();
      const doomed = opts.all ? entries : opts.expired ? entries.filter((e) => state(e, now) !== 'live') : matchEntries(entries, fingerprint!);
      if (fingerprint !== undefined && doomed.length === 0) throw new SquallError(`no cache entry under ${root} matches '${fingerprint}'`);
      for (const e of doomed) await dropEntry(root, e.entry);
      print(`dropped ${doomed.length} cache entr${doomed.length === 1 ? 'y' : 'ies'}`);
    });
}
