// API keys: each caller (principal) has a key; a request carries it as `Authorization: Bearer <key>` or
// `x-api-key: <key>`. Keys come from configuration (SQUALL_API_KEYS: JSON `{"principal": "key"}` or
// `principal:key,principal:key`), are compared as SHA-256 digests in constant time, and never logged.
import { createHash, timingSafeEqual } from 'node:crypto';
import { type HttpApiEvent, header } from './http.ts';

export interface ApiKeys {
  /** The principal a presented key belongs to, or null. */
  principalFor(key: string): string | null;
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

export function apiKeys(entries: Readonly<Record<string, string>>): ApiKeys {
  const table = Object.entries(entries).map(([principal, key]) => {
    if (!/^[A-Za-z0-9._@-]{1,128}$/.test(principal)) throw new Error(`API key principal '${principal}' must be letters, digits, '.', '_', '@' or '-'`);
    if (key.length < 16) throw new Error(`the API key of '${principal}' is shorter than 16 characters`);
    return { principal, digest: digest(key) };
  });
  return {
    principalFor(key: string): string | null {
      const d = digest(key);
      let found: string | null = null;
      // Compare against every entry, so the time taken does not say which one matched.
      for (const e of table) if (timingSafeEqual(d, e.digest) && found === null) found = e.principal;
      return found;
    },
  };
}

/** Keys from SQUALL_API_KEYS (see the top of this file). */
export function apiKeysFromEnv(env: NodeJS.ProcessEnv = process.env): ApiKeys {
  const raw = env.SQUALL_API_KEYS?.trim() ?? '';
  if (raw === '') return apiKeys({});
  if (raw.startsWith('{')) return apiKeys(JSON.parse(raw) as Record<string, string>);
  const entries: Record<string, string> = {};
  for (const pair of raw.split(',')) {
    const at = pair.indexOf(':');
    if (at <= 0) throw new Error("SQUALL_API_KEYS entries are 'principal:key'");
    entries[pair.slice(0, at).trim()] = pair.slice(at + 1).trim();
  }
  return apiKeys(entries);
}

/** The caller of a request, or null when it has no valid key. */
export function authenticate(event: HttpApiEvent, keys: ApiKeys): string | null {
  const auth = header(event, 'authorization');
  const key = auth?.toLowerCase().startsWith('bearer ') ? auth.slice(7).trim() : header(event, 'x-api-key');
  if (!key) return null;
  return keys.principalFor(key);
}
