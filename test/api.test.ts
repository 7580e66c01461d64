// The public API is what docs/api.md lists: each entry exports exactly the names listed for it.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';

/** The names docs/api.md lists under a heading: values, and types (written `type X`). */
function listed(heading: string): { values: string[]; types: string[] } {
  const doc = readFileSync('docs/api.md', 'utf8');
  const start = doc.indexOf(`## ${heading}`);
  expect(start, heading).toBeGreaterThanOrEqual(0);
  const end = doc.indexOf('\n## ', start + 1);
  const names = [...doc.slice(start, end < 0 ? undefined : end).matchAll(/^- .*$/gm)].flatMap((line) => [...line[0].matchAll(/`([^`]+)`/g)].map((m) => m[1]));
  return { values: names.filter((n) => !n.startsWith('type ')).sort(), types: names.filter((n) => n.startsWith('type ')).map((n) => n.slice(5)).sort() };
}

/** The type-only names an entry file exports (`type X` inside an export list, or `export type { … }`). */
function exportedTypes(path: string): string[] {
  const text = readFileSync(path, 'utf8').replace(/\/\/.*/g, '');
  const names: string[] = [];
  for (const m of text.matchAll(/export\s+(type\s+)?\{([^}]*)\}/g)) {
    for (const item of m[2].split(',').map((x) => x.trim()).filter(Boolean)) {
      if (m[1] || item.startsWith('type ')) names.push(item.replace(/^type\s+/, '').split(' as ').pop()!.trim());
    }
  }
  return names.sort();
}

const sorted = (xs: Iterable<string>) => [...xs].sort();

describe('the public API equals docs/api.md', () => {
  it('the shared entry (src/index.ts)', async () => {
    const doc = listed('Both entries (src/index.ts)');
    expect(sorted(Object.keys(await import('../src/index.js')))).toEqual(doc.values);
    expect(exportedTypes('src/index.ts')).toEqual(doc.types);
  });

  it('the Node entry (src/index.node.ts): the shared names and its own; nothing from src/cli', async () => {
    const shared = listed('Both entries (src/index.ts)');
    const own = listed('Node only (src/index.node.ts)');
    expect(sorted(Object.keys(await import('../src/index.node.js')))).toEqual(sorted([...shared.values, ...own.values]));
    expect(exportedTypes('src/index.node.ts')).toEqual(own.types);
    expect(readFileSync('src/index.node.ts', 'utf8')).not.toMatch(/from '\.\/cli\//);
  });

  it('the browser entry (src/index.browser.ts): the shared names and its own', async () => {
    const shared = listed('Both entries (src/index.ts)');
    const own = listed('Browser only (src/index.browser.ts)');
    expect(sorted(Object.keys(await import('../src/index.browser.js')))).toEqual(sorted([...shared.values, ...own.values]));
    expect(exportedTypes('src/index.browser.ts')).toEqual(own.types);
  });
});
