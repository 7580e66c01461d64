// Node: WebGPU through Dawn (npm `webgpu`). A real GPU first; with none, Google's SwiftShader
// Vulkan driver that Debian's chromium package ships, saying so in one line.

import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { engineFromAdapter, isSoftwareAdapter, describeAdapter, type AdapterChoice } from './acquire.js';
import type { Engine, EngineOptions } from './engine.js';
import { OptionError } from '../util/option-error.js';

export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

export interface NodeGpuOptions extends EngineOptions {
  adapter?: AdapterChoice;
  /** Where the one line about the adapter goes (default: stderr). */
  log?: (line: string) => void;
  /**
   * Poll Dawn at most once a millisecond instead of spinning (see throttleDawnPolls). Default:
   * on for CPU-emulated adapters, where the spinning thread takes a core from the emulated GPU.
   */
  throttlePolls?: boolean;
  /**
   * Set the Vulkan loader's environment variables in process.env (see createNodeEngine). Default
   * true. With false, process.env is left alone: for the SwiftShader fallback, set
   * VK_ICD_FILENAMES yourself before the first engine is created.
   */
  setEnv?: boolean;
  /**
   * With `adapter: 'auto'`, ask for a hardware adapter in a child process first, so that the
   * Vulkan loader's warnings about missing drivers stay out of this process's stderr. Default
   * true. With false no process is spawned: the adapter is requested in this process.
   */
  probe?: boolean;
  /**
   * Copy npm `webgpu`'s globals (GPUBufferUsage, GPUMapMode, the GPU* interface objects) onto
   * globalThis when Dawn is first loaded in this process. Default true; kdgpu itself does not
   * need them (src/gpu/flags.ts).
   */
  installGlobals?: boolean;
}

type DawnModule = { create: (flags: string[]) => GPU; globals: Record<string, unknown> };
let dawn: DawnModule | null = null;
// Dawn keeps the process alive while a GPU instance is referenced: keep exactly one, drop it on destroy.
const instances = new Set<GPU>();

/**
 * Dawn's Node binding delivers every promise (mapAsync, onSubmittedWorkDone, popErrorScope) by
 * re-posting a poll with the global setImmediate for as long as one is pending, so waiting for the
 * GPU spins the main thread at 100%. On SwiftShader that thread competes with the emulated GPU for
 * the same cores: measured on 2 cores, 55 ms of main-thread CPU in a 79 ms student-step wait. While
 * a throttle is held, an unnamed native function given to setImmediate (Dawn's poll: a JavaScript
 * callback is never native, a bound one is named "bound …") runs after a 1 ms timer instead: the
 * same polls, at most 1,000 a second (4 ms of CPU per wait, measured), at most 1 ms later.
 * Everyone else's setImmediate is untouched (util.promisify(setImmediate) too). Returns the
 * release; the original is restored when the last holder releases.
 */
let throttleHolders = 0;
let originalSetImmediate: typeof setImmediate | null = null;
const nativeSource = /\{\s*\[native code\]\s*\}\s*$/;

export function throttleDawnPolls(): () => void {
  if (throttleHolders++ === 0) {
    const original = globalThis.setImmediate;
    originalSetImmediate = original;
    const throttled = ((fn: (...args: unknown[]) => void, ...args: unknown[]) =>
      typeof fn === 'function' && fn.name === '' && nativeSource.test(Function.prototype.toString.call(fn))
        ? setTimeout(fn, 1, ...args)
        : original(fn, ...args)) as unknown as typeof setImmediate;
    const custom = (original as unknown as Record<symbol, unknown>)[promisify.custom];
    globalThis.setImmediate = Object.defineProperty(Object.assign(throttled, { __promisify__: original.__promisify__ }), promisify.custom, { value: custom });
  }
  let released = false;
  return () => {
    if (released) return;
    released = true;
    if (--throttleHolders === 0 && originalSetImmediate) {
      globalThis.setImmediate = originalSetImmediate;
      originalSetImmediate = null;
    }
  };
}

let globalsInstalled = false;

async function loadDawn(installGlobals: boolean): Promise<DawnModule> {
  if (!dawn) dawn = (await import('webgpu')) as unknown as DawnModule;
  if (installGlobals && !globalsInstalled) {
    Object.assign(globalThis, dawn.globals);
    globalsInstalled = true;
  }
  return dawn;
}

const NO_ADAPTER_HELP = [
  'no WebGPU adapter found.',
  'kdgpu runs on Dawn (npm "webgpu") over Vulkan. Install one of:',
  '  - your GPU\'s Vulkan driver and the Vulkan loader (Debian: apt-get install libvulkan1 mesa-vulkan-drivers, or the NVIDIA driver);',
  `  - the CPU fallback: apt-get install libvulkan1 chromium (ships SwiftShader at ${SWIFTSHADER_ICD}).`,
].join('\n');

// Where the Vulkan loader looks for drivers when no variable overrides it.
const ICD_DIRS = ['/etc/vulkan/icd.d', '/usr/local/share/vulkan/icd.d', '/usr/share/vulkan/icd.d'];

/** Whether probing for a hardware adapter can find anything (it prints loader noise when it can't). */
function hardwareDriverMayExist(): boolean {
  if (process.platform !== 'linux') return true;
  if (process.env.VK_ICD_FILENAMES || process.env.VK_DRIVER_FILES || process.env.VK_ADD_DRIVER_FILES) return true;
  return ICD_DIRS.some((dir) => {
    try {
      return readdirSync(dir).some((f) => f.endsWith('.json') && !f.includes('lvp_icd'));
    } catch {
      return false;
    }
  });
}

/**
 * Ask for a hardware adapter in a child process. Dawn and the Vulkan loader print warnings to
 * stderr for every driver that fails to load, which on a machine without a GPU is noise: the
 * child swallows it, and the parent only creates an instance where one will work.
 */
function probeHardwareAdapter(env: NodeJS.ProcessEnv): string | null {
  const url = pathToFileURL(createRequire(import.meta.url).resolve('webgpu')).href;
  const script = `
    const { create } = await import(${JSON.stringify(url)});
    const a = await create([]).requestAdapter({ powerPreference: 'high-performance' });
    const i = a?.info;
    process.stdout.write(JSON.stringify(i ? [i.vendor, i.architecture, i.device, i.description, !!i.isFallbackAdapter] : null));
    process.exit(0);`;
  try {
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'ignore'],
      env,
      timeout: 30_000,
      encoding: 'utf8',
    });
    const info = JSON.parse(out) as [string, string, string, string, boolean] | null;
    if (!info || info[4] || /swiftshader|llvmpipe|lavapipe/i.test(info.slice(0, 4).join(' '))) return null;
    return info.filter((s) => typeof s === 'string' && s).join(' / ');
  } catch {
    return null;
  }
}

async function requestAdapter(installGlobals: boolean): Promise<{ gpu: GPU; adapter: GPUAdapter | null }> {
  const { create } = await loadDawn(installGlobals);
  const gpu = create([]);
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  return { gpu, adapter };
}

/**
 * An engine over Dawn: a hardware GPU, else SwiftShader. Creating one changes the process:
 *
 *  - Dawn (npm `webgpu`, a native addon) is loaded once per process, and its globals
 *    (GPUBufferUsage, GPUMapMode, the GPU* interface objects) are copied onto globalThis. Never
 *    undone. Opt out: `installGlobals: false`.
 *  - process.env: VK_LOADER_DRIVERS_DISABLE defaults to '*lvp_icd*' and XDG_RUNTIME_DIR to '/tmp'
 *    (each only where unset), and for the SwiftShader fallback VK_ICD_FILENAMES is set to
 *    SWIFTSHADER_ICD (the Vulkan loader reads it when Dawn creates its instance). These stay for
 *    the life of the process and are inherited by its child processes. Opt out: `setEnv: false`.
 *  - with `adapter: 'auto'` where a hardware driver may exist, a child Node process asks Dawn for
 *    an adapter (synchronously, up to 30 s), so the loader's warnings stay out of this stderr.
 *    Opt out: `probe: false`.
 *  - on a CPU-emulated adapter, the global setImmediate is wrapped to throttle Dawn's polls (see
 *    throttleDawnPolls); engine.destroy() restores it (once the last engine that wrapped it is
 *    destroyed). Opt out: `throttlePolls: false`.
 *  - the Dawn instance is held (and keeps the event loop alive) until engine.destroy().
 *  - one line about the adapter goes to stderr. Redirect: `log`.
 */
export async function createNodeEngine(options: NodeGpuOptions = {}): Promise<Engine> {
  const choice = options.adapter ?? 'auto';
  const log = options.log ?? ((line: string) => process.stderr.write(line + '\n'));
  const setEnv = options.setEnv ?? true;
  const installGlobals = options.installGlobals ?? true;
  if (!['auto', 'gpu', 'swiftshader'].includes(choice)) {
    throw new OptionError('adapter', choice, (name) => `${name('adapter')} must be auto, gpu or swiftshader; got "${choice}"`);
  }
  // Mesa's lavapipe in Debian 12 is too old for Dawn and only prints warnings; never probe it.
  const loaderDefaults = { VK_LOADER_DRIVERS_DISABLE: '*lvp_icd*', XDG_RUNTIME_DIR: '/tmp' };
  if (setEnv) {
    process.env.VK_LOADER_DRIVERS_DISABLE ??= loaderDefaults.VK_LOADER_DRIVERS_DISABLE;
    process.env.XDG_RUNTIME_DIR ??= loaderDefaults.XDG_RUNTIME_DIR;
  }

  let found: { gpu: GPU; adapter: GPUAdapter | null } | null = null;
  if (choice === 'gpu') {
    found = await requestAdapter(installGlobals);
    if (found.adapter && isSoftwareAdapter(found.adapter)) found.adapter = null;
    if (!found.adapter) throw new OptionError('adapter', choice, (name) => `${name('adapter')} gpu: no hardware GPU adapter found.\n${NO_ADAPTER_HELP}`);
  } else if (choice === 'auto' && hardwareDriverMayExist()) {
    if (options.probe ?? true) {
      // The child gets the loader defaults whether or not this process's env was changed.
      if (probeHardwareAdapter({ ...loaderDefaults, ...process.env }) !== null) found = await requestAdapter(installGlobals);
    } else {
      found = await requestAdapter(installGlobals);
      // What the probe would have refused: a software adapter is taken only as the fallback below.
      if (found.adapter && isSoftwareAdapter(found.adapter)) found = null;
    }
  }
  if (!found?.adapter) {
    if (!existsSync(SWIFTSHADER_ICD)) {
      if (choice === 'swiftshader') throw new OptionError('adapter', choice, (name) => `${name('adapter')} swiftshader: ${SWIFTSHADER_ICD} does not exist.\n${NO_ADAPTER_HELP}`);
      throw new Error(NO_ADAPTER_HELP);
    }
    // The Vulkan loader reads this when Dawn creates its instance, so set it before create().
    if (setEnv) process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
    found = await requestAdapter(installGlobals);
    if (!found.adapter) {
      const env = setEnv ? '' : ` With setEnv: false, set VK_ICD_FILENAMES=${SWIFTSHADER_ICD} in the environment yourself.`;
      throw new Error(`SwiftShader did not provide an adapter (is libvulkan1 installed?).${env}\n${NO_ADAPTER_HELP}`);
    }
    if (choice === 'auto') log(`kdgpu: no GPU adapter found; using SwiftShader on the CPU (${SWIFTSHADER_ICD})`);
  }
  const engine = await engineFromAdapter(found.adapter!, options);
  const gpu = found.gpu;
  instances.add(gpu);
  const unthrottle = (options.throttlePolls ?? isSoftwareAdapter(found.adapter!)) ? throttleDawnPolls() : () => {};
  const destroy = engine.destroy.bind(engine);
  engine.destroy = () => {
    destroy();
    instances.delete(gpu);
    unthrottle();
  };
  if (choice !== 'auto' || !isSoftwareAdapter(found.adapter!)) log(`kdgpu: adapter ${describeAdapter(found.adapter!)}`);
  return engine;
}
