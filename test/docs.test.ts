// The documentation stands on its own: every relative link in README.md and docs/ resolves to a
// file of the repository, and nothing points outside it.
import { execFileSync, spawnSync } from 'node:child_process';
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

describe("CI runs the README's first command", () => {
  /** The first command a reader of the README meets: the first line of its first indented code block. */
  function readmeFirstCommand(): string {
    const lines = readFileSync('README.md', 'utf8').split('\n');
    const i = lines.findIndex((line, k) => /^ {4}\S/.test(line) && k > 0 && lines[k - 1].trim() === '');
    return lines[i].trim();
  }

  // .ci/run itself is never executed here: it installs (npm ci) and runs the whole suite.
  it('.ci/run runs the README\'s first command, shortened to two epochs on 2,000 images, before the tests', () => {
    const readme = readmeFirstCommand();
    expect(readme).toMatch(/^bash scripts\/setup\.sh && npx kdgpu distill .*--epochs \d+.*--train-subset \d+/);
    const shortened = readme.replace(/--epochs \d+/, '--epochs 2').replace(/--train-subset \d+/, '--train-subset 2000');
    expect(existsSync('.ci/first-command')).toBe(true);
    expect(execFileSync('bash', ['.ci/first-command'], { encoding: 'utf8' }).trim()).toBe(shortened);
    // .ci/run runs what .ci/first-command prints, first, on the checkout as cloned: nothing builds
    // before it, the tests come after.
    const script = readFileSync('.ci/run', 'utf8').split('\n').filter((line) => line.trim() && !/^\s*#/.test(line));
    const derived = script.indexOf('first=$(bash .ci/first-command)');
    const runsFirst = script.indexOf('bash -c "$first"');
    expect(derived).toBeGreaterThan(0);
    expect(runsFirst).toBeGreaterThan(derived);
    expect(script.slice(0, runsFirst).filter((line) => /npm|node|build|esbuild|tsc|setup/.test(line))).toEqual([]);
    expect(script.slice(runsFirst + 1)).toContain('npm test');
  });

  it('scripts/setup.sh builds what the CLI and the library run from', () => {
    const setup = readFileSync('scripts/setup.sh', 'utf8');
    const install = setup.indexOf('npm ci');
    expect(install).toBeGreaterThan(0);
    expect(setup.indexOf('npm run --silent build\n', install)).toBeGreaterThan(install);
    expect(setup.indexOf('npm run --silent build:types', install)).toBeGreaterThan(install);
  });
});

describe('installing', () => {
  it('npm runs in the clone without warnings about the project\'s configuration', () => {
    const r = spawnSync('npm', ['pkg', 'get', 'name'], { encoding: 'utf8', env: { ...process.env, npm_config_loglevel: 'warn' } });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
  });

  it('onnxruntime-node installs without its network-fetching script: the clone\'s npm ci, and the command the README and docs give', () => {
    // npm (11.19 on) runs a dependency's install script only when allowScripts approves it, and
    // lists the ones it skipped after every install: each is decided, onnxruntime-node's denied.
    const allowScripts = JSON.parse(readFileSync('package.json', 'utf8')).allowScripts as Record<string, boolean>;
    const lock = JSON.parse(readFileSync('package-lock.json', 'utf8')) as { packages: Record<string, { hasInstallScript?: boolean }> };
    const withScripts = Object.entries(lock.packages).filter(([, p]) => p.hasInstallScript).map(([path]) => path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length));
    expect(withScripts).toContain('onnxruntime-node');
    expect(withScripts.filter((name) => typeof allowScripts[name] !== 'boolean')).toEqual([]);
    expect(allowScripts['onnxruntime-node']).toBe(false);
    expect(readFileSync('scripts/setup.sh', 'utf8')).toMatch(/^ONNXRUNTIME_NODE_INSTALL=skip npm ci /m);
    for (const file of ['README.md', 'docs/interop.md', 'src/interop/onnx-node.ts']) {
      const installs = [...readFileSync(file, 'utf8').matchAll(/npm install onnxruntime-node[^`)\n]*/g)].map((m) => m[0].trim());
      expect(installs.length, file).toBeGreaterThan(0);
      for (const command of installs) expect(command, file).toBe('npm install onnxruntime-node --ignore-scripts');
    }
  });
});
