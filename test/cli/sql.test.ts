// `squall sql`: a query over files, printed as a table, JSON or CSV; user errors exit 1 with one line.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { runCli } from '../../core/cli/main.ts';

const dir = mkdtempSync(join(tmpdir(), 'squall-cli-'));
const csv = join(dir, 'people.csv');
writeFileSync(csv, 'name,age,city\nAda,36,London\n"Hopper, Grace",45,New York\nLinus,,Helsinki\n');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function run(...args: string[]): Promise<{ code: number; out: string }> {
  const lines: string[] = [];
  const code = await runCli(args, (t) => lines.push(t));
  return { code, out: lines.join('\n') };
}

describe('squall sql', () => {
  it('prints a table', async () => {
    const { code, out } = await run('sql', 'select city, age from people where age is not null order by age desc', '--table', `people=${csv}`);
    expect(code).toBe(0);
    expect(out).toBe(['+--------+---+', '|    city|age|', '+--------+---+', '|New York| 45|', '|  London| 36|', '+--------+---+'].join('\n'));
  });

  it('prints JSON and CSV', async () => {
    const json = await run('sql', 'select name, age from people order by name', '-t', `people=${csv}`, '-f', 'json');
    expect(JSON.parse(json.out)).toEqual([
      { name: 'Ada', age: 36 },
      { name: 'Hopper, Grace', age: 45 },
      { name: 'Linus', age: null },
    ]);
    const text = await run('sql', 'select name, age from people order by name', '-t', `people=${csv}`, '--format', 'csv');
    expect(text.out).toBe('name,age\nAda,36\n"Hopper, Grace",45\nLinus,');
  });

  it('a bad query exits 1 with a one-line error', async () => {
    const err = vi.spyOn(console, 'error').mockImplementation(() => {});
    const { code } = await run('sql', 'select nmae from people', '-t', `people=${csv}`);
    expect(code).toBe(1);
    expect(err.mock.calls[0]![0]).toMatch(/^error: column 'nmae' does not exist.*Did you mean 'name'/);
    err.mockRestore();
    expect((await run('sql', 'select 1', '-f', 'xml')).code).not.toBe(0);
  });

  it('runs as `npx squall`', () => {
    const out = execFileSync('npx', ['squall', 'sql', 'select count(*) as n from people', '-t', `people=${csv}`, '-f', 'json'], {
      cwd: join(import.meta.dirname, '..', '..'),
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    expect(JSON.parse(out)).toEqual([{ n: 3 }]);
  });
});
