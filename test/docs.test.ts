/**
 * The README and docs/ as a newcomer reads them: the first 60 lines hold the commands from a clone and in a user's
 * repository; every relative link of the README and docs/ points at a file that exists; docs/speed.md is what
 * bench/results.json gives (scripts/speed-table.ts).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { speedMarkdown } from '../scripts/speed-table.ts';

const root = join(import.meta.dirname, '..');
const read = (p: string) => readFileSync(join(root, p), 'utf8');

describe('README and docs', () => {
  it('opens with the commands that work, from a clone and in your repository', () => {
    const head = read('README.md').split('\n').slice(0, 60).join('\n');
    for (const command of ['npm install', 'npm run report', 'npm test', 'npm pack', 'npm install --save-dev ../convlens/convlens-0.1.0.tgz', 'npx convlens init', 'npx convlens report']) {
      expect(head).toContain(command);
    }
    expect(head).toContain('![');
    expect(existsSync(join(root, 'docs/sample-page.png'))).toBe(true);
    // The package's version is the tarball's name.
    expect(head).toContain(`convlens-${JSON.parse(read('package.json')).version}.tgz`);
  });

  it('every relative link of the README and docs/ resolves to a file', () => {
    const files = ['README.md', ...readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
    const broken: string[] = [];
    for (const file of files) {
      for (const m of read(file).matchAll(/\]\(([^)#\s]+)(#[^)]*)?\)/g)) {
        const target = m[1];
        if (/^[a-z]+:/.test(target) || target.startsWith('/')) continue;
        if (!existsSync(join(root, dirname(file), target))) broken.push(`${file} → ${target}`);
      }
    }
    expect(broken).toEqual([]);
  });

  it('docs/speed.md is the table bench/results.json gives', () => {
    expect(read('docs/speed.md')).toBe(speedMarkdown(JSON.parse(read('bench/results.json'))));
  });
});
