// The command line's manners: --version, one-line errors with a hint, options a command cannot
// honour refused, --json [file] the same everywhere, and a piped run that says what it is doing.
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kdgpu, kdgpuFails } from './helpers.js';

const cli = (args: string[]) => kdgpu(args);
const fails = async (args: string[]) => (await kdgpuFails(args)).out;
const dir = mkdtempSync(join(tmpdir(), 'kdgpu-cli-'));

describe('kdgpu command line', () => {
  it('--version prints the package version', async () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
    expect((await cli(['--version'])).stdout.trim()).toBe(pkg.version);
  });

  it('a bad choice prints one line and a hint, not the whole help page', async () => {
    const out = await fails(['distill', '--teacher', 'models/teacher-cnn.safetensors', '--method', 'nope']);
    expect(out).toMatch(/argument 'nope' is invalid/);
    expect(out).toMatch(/add --help for the options/);
    expect(out).not.toMatch(/--dkd-beta/);
    expect(out.trim().split('\n').length).toBeLessThanOrEqual(3);
  });

  it('options a command cannot honour are refused by name', async () => {
    expect(await fails(['ablate', '--teacher', 'models/teacher-cnn.safetensors', '--seed', '3'])).toMatch(/--seed does not apply to ablate/);
    expect(await fails(['ablate', '--teacher', 'models/teacher-cnn.safetensors', '--stop-after', '1'])).toMatch(/--stop-after does not apply to ablate/);
    expect(await fails(['bench', 'kernels', '--model', 'teacher-cnn'])).toMatch(/--model applies to "bench profile", not "bench kernels"/);
  });

  it('--json [file]: to stdout instead of the table, or to the file named beside it', async () => {
    const stdout = (await cli(['verify', '--filter', 'scatter', '--json', '--seed', '2'])).stdout;
    expect(JSON.parse(stdout).pass).toBe(true);
    const file = join(dir, 'verify.json');
    const table = (await cli(['verify', '--filter', 'scatter', '--json', file, '--seed', '2'])).stdout;
    expect(table).toMatch(/passed, 0 failed/);
    expect(JSON.parse(readFileSync(file, 'utf8')).rows.length).toBeGreaterThan(0);
  });

  it('piped output says when the pipelines are built and how long that took, before the first epoch ends', async () => {
    const { stdout } = await cli(['distill', '--teacher', 'models/teacher-cnn.safetensors', '--method', 'kd', '--epochs', '1', '--train-subset', '256', '--val-split', '200', '--test-subset', '200', '--batch', '64']);
    const lines = stdout.split('\n');
    const compiled = lines.findIndex((l) => /^the GPU pipelines: [\d.]+ s, first step done; \d+ GPU pipelines built in [\d.]+ s of it$/.test(l));
    const epoch = lines.findIndex((l) => l.startsWith('epoch 1:'));
    expect(compiled).toBeGreaterThanOrEqual(0);
    expect(compiled).toBeLessThan(epoch);
  });
});
