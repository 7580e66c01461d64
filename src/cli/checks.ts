// `--checks FILE`: your own kernels, loaded from an ES module that exports `checks` (an array of
// KernelCheck, or one) or has one as its default export. See examples/my-kernels.mjs.

import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { KernelCheck } from '../kernels/check.js';

export async function loadChecks(files: string[] = []): Promise<KernelCheck[]> {
  const out: KernelCheck[] = [];
  for (const file of files) {
    const path = resolve(file);
    let isFile = false;
    try {
      isFile = statSync(path).isFile();
    } catch {
      throw new Error(`--checks ${file}: no such file`);
    }
    if (!isFile) throw new Error(`--checks ${file}: not a regular file`);
    let mod: Record<string, unknown>;
    try {
      mod = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
    } catch (e) {
      throw new Error(`--checks ${file}: could not load the module: ${(e as Error).message}`);
    }
    const exported = mod.checks ?? mod.default;
    const list = Array.isArray(exported) ? exported : exported ? [exported] : [];
    if (list.length === 0) throw new Error(`--checks ${file}: exports no checks (export const checks = [ { name, kernels, cases } ], or a default export)`);
    list.forEach((c: Partial<KernelCheck>, i) => {
      const what = `--checks ${file}: check #${i + 1}${typeof c?.name === 'string' ? ` ("${c.name}")` : ''}`;
      if (!c || typeof c.name !== 'string' || !c.name) throw new Error(`${what}: needs a name (string)`);
      if (!Array.isArray(c.kernels) || c.kernels.length === 0) throw new Error(`${what}: needs kernels, the definitions it exercises (from defineKernel)`);
      if (typeof c.cases !== 'function') throw new Error(`${what}: needs cases(rng), returning the verification cases`);
      out.push(c as KernelCheck);
    });
  }
  return out;
}
