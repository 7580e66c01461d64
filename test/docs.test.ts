// The documentation stands on its own: every relative link in README.md and docs/ resolves to a
// file of the repository, and nothing points outside it.
import { describe, expect, it } from 'vitest';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const root = resolve('.');
const files = ['README.md', ...readdirSync('docs').filter((f) => f.endsWith('.md')).map((f) => join('docs', f))];

describe('documentation links', () => {
  for (const file of files) {
    it(`${file}: every relative link resolves inside the repository`, () => {
      const text = readFileSync(file, 'utf8');
      const links = [...text.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]).filter((l) => !/^[a-z]+:/i.test(l) && !l.startsWith('#'));
      for (const link of links) {
        const target = resolve(dirname(file), link.split('#')[0]);
        expect(relative(root, target).startsWith('..'), `${file}: ${link} leaves the repository`).toBe(false);
        expect(existsSync(target), `${file}: ${link} does not exist`).toBe(true);
      }
    });
  }

  it('the README is short, and no document cites ../shared', () => {
    expect(readFileSync('README.md', 'utf8').split('\n').length).toBeLessThanOrEqual(140);
    for (const file of files) expect(readFileSync(file, 'utf8')).not.toMatch(/\.\.\/shared/);
  });
});
