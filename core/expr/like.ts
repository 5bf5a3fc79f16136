// SQL LIKE patterns (`%` any run, `_` one character, `\` escapes the next character), compiled once into the
// cheapest matcher: equality, prefix, suffix, substring, or an anchored RegExp.

export type LikeMatcher =
  | { readonly kind: 'equals'; readonly text: string }
  | { readonly kind: 'prefix'; readonly text: string }
  | { readonly kind: 'suffix'; readonly text: string }
  | { readonly kind: 'contains'; readonly text: string }
  | { readonly kind: 'any' }
  | { readonly kind: 'regexp'; readonly re: RegExp };

type Token = { lit: string } | '%' | '_';

function tokenize(pattern: string): Token[] {
  const out: Token[] = [];
  let lit = '';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i]!;
    if (ch === '\\' && i + 1 < pattern.length) {
      lit += pattern[++i];
    } else if (ch === '%' || ch === '_') {
      if (lit) out.push({ lit });
      lit = '';
      // Collapse runs of '%'.
      if (!(ch === '%' && out[out.length - 1] === '%')) out.push(ch);
    } else {
      lit += ch;
    }
  }
  if (lit) out.push({ lit });
  return out;
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Compile a LIKE pattern. With `caseInsensitive` (ILIKE) the matcher expects lower-cased input. */
export function compileLike(pattern: string, caseInsensitive: boolean): LikeMatcher {
  const tokens = tokenize(caseInsensitive ? pattern.toLowerCase() : pattern);
  const lits = tokens.filter((t): t is { lit: string } => typeof t === 'object');
  const hasUnderscore = tokens.includes('_');
  if (!hasUnderscore && lits.length <= 1) {
    const text = lits[0]?.lit ?? '';
    const pct = tokens.filter((t) => t === '%').length;
    const starts = tokens[0] === '%';
    const ends = tokens[tokens.length - 1] === '%';
    if (pct === 0) return { kind: 'equals', text };
    if (text === '') return { kind: 'any' };
    if (starts && ends && pct === 2) return { kind: 'contains', text };
    if (ends && !starts && pct === 1) return { kind: 'prefix', text };
    if (starts && !ends && pct === 1) return { kind: 'suffix', text };
  }
  const body = tokens.map((t) => (t === '%' ? '.*' : t === '_' ? '.' : escapeRe(t.lit))).join('');
  // 's' so that '%' and '_' match newlines; 'u' so that '_' is one code point.
  return { kind: 'regexp', re: new RegExp(`^${body}$`, 'su') };
}

/** Match one string (for tests and interpreted use; kernels inline the matcher). */
export function likeMatches(m: LikeMatcher, s: string): boolean {
  switch (m.kind) {
    case 'equals':
      return s === m.text;
    case 'prefix':
      return s.startsWith(m.text);
    case 'suffix':
      return s.endsWith(m.text);
    case 'contains':
      return s.includes(m.text);
    case 'any':
      return true;
    case 'regexp':
      return m.re.test(s);
  }
}
