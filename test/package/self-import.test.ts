// The SDK is the package's main export: a TypeScript file inside the repository imports it as 'squall'.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { expect, it } from 'vitest';

it("import { Session, col, lit, functions as F } from 'squall' works under npx tsx", () => {
  const root = join(import.meta.dirname, '..', '..');
  const out = execFileSync(process.execPath, ['--import', 'tsx', join(root, 'test', 'package', 'self-import.ts')], {
    cwd: root,
    encoding: 'utf8',
  });
  expect(JSON.parse(out.trim())).toEqual([
    { k: 'a', total: 40 },
    { k: 'b', total: 20 },
  ]);
});
