// `kdgpu bench steps` (npm run bench -- steps): one training step (forward, backward, SGD-momentum
// update; batch 128; Fashion-MNIST 1x28x28, 10 classes) of teacher-cnn and student-cnn on kdgpu
// and, in the same run, on TensorFlow.js 4.22 with its webgpu backend (same Dawn adapter) and its
// wasm backend (1 thread). Medians, samples/s and kdgpu's speed-up over each peer.
//
// One child process per backend (bench/peers/*), all kept alive for a model; the runner asks them
// in turn for a few steps each, round after round (kdgpu, tfjs-webgpu, tfjs-wasm, kdgpu, ...), so
// every backend sees the same machine state, and measures the CPU the idle children use meanwhile
// (it should be ~0). What a step includes: bench/peers/protocol.ts and each child's header.
//
//   node dist/bench-steps.js [--quick] [--rounds N] [--warmup N] [--per-round N] [--kdgpu-throttle on|off] [--filter a,b] [--json FILE] [--adapter auto|gpu|swiftshader]

import { fork, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatTable } from '../src/cli/table.js';
import { SWIFTSHADER_ICD } from '../src/gpu/node.js';
import { BACKENDS, INPUT, MODELS, RECIPE, type BenchBackend, type BenchModel, type FromChild, type InitMessage, type ReadyMessage, type StepResult, type ToChild } from './peers/protocol.js';

const HERE = dirname(fileURLToPath(import.meta.url)); // dist/ once bundled
const ROOT = resolve(HERE, '..');
const BATCH = 128;
const SEED = 1;
/** Longest a child may take to answer (a tfjs-webgpu teacher step on SwiftShader is ~50 s). */
const REQUEST_TIMEOUT_MS = 10 * 60_000;

interface Plan {
  models: BenchModel[];
  rounds: number;
  /** Untimed steps first (pipeline/shader compilation, allocation). */
  warmup: Record<BenchBackend, number>;
  /** Timed steps per backend per round. */
  perRound: Record<BenchBackend, number>;
}

// tfjs-webgpu on SwiftShader takes ~15 s (student) to ~50 s (teacher) a step: one a round.
const FULL: Plan = {
  models: ['student-cnn', 'teacher-cnn'],
  rounds: 3,
  warmup: { kdgpu: 3, 'tfjs-webgpu': 1, 'tfjs-wasm': 2 },
  perRound: { kdgpu: 5, 'tfjs-webgpu': 1, 'tfjs-wasm': 5 },
};
const QUICK: Plan = {
  models: ['student-cnn'],
  rounds: 2,
  warmup: { kdgpu: 2, 'tfjs-webgpu': 1, 'tfjs-wasm': 1 },
  perRound: { kdgpu: 3, 'tfjs-webgpu': 1, 'tfjs-wasm': 3 },
};

interface Options {
  quick: boolean;
  rounds?: number;
  filter?: string;
  json?: string;
  adapter: string;
  swiftshader?: boolean;
  dataDir?: string;
  /** Overrides the plan's warm-up / timed steps per round for every backend (a GPU needs more). */
  warmup?: number;
  perRound?: number;
  /** kdgpu's NodeGpuOptions.throttlePolls, for an A/B of the poll's cost (--kdgpu-throttle on|off). */
  kdgpuThrottle?: boolean;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { quick: false, adapter: 'auto' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--quick') o.quick = true;
    else if (a === '--rounds') {
      o.rounds = Number(value());
      if (!Number.isInteger(o.rounds) || o.rounds < 1) throw new Error(`--rounds must be a positive integer`);
    } else if (a === '--warmup' || a === '--per-round') {
      const n = Number(value());
      if (!Number.isInteger(n) || n < (a === '--warmup' ? 0 : 1)) throw new Error(`${a} must be a ${a === '--warmup' ? 'non-negative' : 'positive'} integer`);
      if (a === '--warmup') o.warmup = n;
      else o.perRound = n;
    } else if (a === '--kdgpu-throttle') {
      const v = value();
      if (v !== 'on' && v !== 'off') throw new Error(`--kdgpu-throttle must be on or off (got ${v})`);
      o.kdgpuThrottle = v === 'on';
    } else if (a === '--filter') o.filter = value();
    else if (a === '--json') o.json = value();
    else if (a === '--adapter') o.adapter = value();
    else if (a === '--data-dir') o.dataDir = value();
    else if (a === '--swiftshader') o.swiftshader = true;
    else if (a === '--no-swiftshader') o.swiftshader = false;
    else if (a === '--help' || a === '-h') {
      process.stdout.write('usage: bench-steps [--quick] [--rounds N] [--warmup N] [--per-round N] [--kdgpu-throttle on|off] [--filter model-or-backend,...] [--json FILE] [--adapter auto|gpu|swiftshader] [--data-dir DIR]\n');
      process.exit(0);
    } else throw new Error(`unknown option ${a}`);
  }
  return o;
}

/** Multiply-adds x2 of one step: forward, plus backward data and weights (none for the input). */
export function stepFlops(model: BenchModel, batch = BATCH): number {
  const convs = model === 'teacher-cnn' ? [32, 64] : [8, 16];
  const linears = model === 'teacher-cnn' ? [256, INPUT.classes] : [INPUT.classes];
  let total = 0;
  let c: number = INPUT.channels;
  let hw = INPUT.height * INPUT.width;
  convs.forEach((co, i) => {
    const fwd = 2 * batch * hw * co * c * 9;
    total += fwd * (i === 0 ? 2 : 3);
    c = co;
    hw /= 4;
  });
  let f = c * hw;
  for (const out of linears) {
    total += 3 * 2 * batch * f * out;
    f = out;
  }
  return total;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** utime + stime of a process in ms (Linux), or null. */
function cpuMs(pid: number | undefined): number | null {
  if (pid === undefined || process.platform !== 'linux') return null;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * 10; // fields 14, 15; USER_HZ = 100
  } catch {
    return null;
  }
}

class Child {
  private proc: ChildProcess;
  private waiting: { resolve: (m: FromChild) => void; reject: (e: Error) => void } | null = null;
  private exited: string | null = null;
  /** CPU used while the other backends were being timed, and the wall time of those periods. */
  idleCpuMs = 0;
  idleWallMs = 0;

  constructor(
    readonly backend: BenchBackend,
    script: string,
    args: string[],
  ) {
    this.proc = fork(script, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'advanced' });
    this.proc.on('message', (m: FromChild) => {
      const w = this.waiting;
      this.waiting = null;
      if (!w) return;
      if (m.type === 'error') w.reject(new Error(m.message));
      else w.resolve(m);
    });
    this.proc.on('exit', (code, signal) => {
      this.exited = `exited (${signal ?? code})`;
      this.waiting?.reject(new Error(`${backend} child ${this.exited}`));
      this.waiting = null;
    });
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  /** Send a message and wait for the answer; a child silent for `timeoutMs` is killed. */
  request(msg: ToChild, timeoutMs = REQUEST_TIMEOUT_MS): Promise<FromChild> {
    if (this.exited) return Promise.reject(new Error(`${this.backend} child ${this.exited}`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting = null;
        this.proc.kill('SIGKILL');
        reject(new Error(`${this.backend} child gave no answer in ${timeoutMs / 1000} s (killed)`));
      }, timeoutMs);
      const done = <T>(f: (v: T) => void) => (v: T) => {
        clearTimeout(timer);
        f(v);
      };
      this.waiting = { resolve: done(resolve), reject: done(reject) };
      this.proc.send(msg);
    });
  }

  async close(): Promise<void> {
    if (this.exited) return;
    const done = new Promise<void>((r) => this.proc.once('exit', () => r()));
    this.proc.send({ type: 'exit' } satisfies ToChild);
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 10_000);
    await done;
    clearTimeout(timer);
  }
}

interface BackendResult {
  backend: BenchBackend;
  device?: string;
  details?: ReadyMessage['details'];
  initMs?: number;
  /** initMs + the first (warm-up) step. */
  firstStepMs?: number;
  warmup: StepResult[];
  timed: StepResult[];
  medianMs?: number;
  minMs?: number;
  maxMs?: number;
  samplesPerSec?: number;
  gflops?: number;
  /** peer median / kdgpu median (> 1: kdgpu is faster). */
  kdgpuSpeedup?: number;
  /** CPU this child used while it was idle and another backend was timed, as % of one core. */
  idleCpuPercent?: number;
  sanity?: {
    firstStep: number;
    firstLoss: number;
    lastStep: number;
    lastLoss: number;
    decreased: boolean;
    /** Largest |loss - kdgpu's loss| over the steps both ran. */
    maxDiffVsKdgpu?: number;
    commonSteps: number;
    verdict: string;
  };
  error?: string;
}

interface ModelResult {
  model: BenchModel;
  gflopPerStep: number;
  sameAdapter?: boolean;
  backends: BackendResult[];
}

function select(filter: string | undefined, plan: Plan): { models: BenchModel[]; backends: BenchBackend[] } {
  const terms = (filter ?? '').split(',').map((t) => t.trim()).filter(Boolean);
  const models = MODELS.filter((m) => terms.some((t) => m.includes(t)));
  const backends = BACKENDS.filter((b) => terms.some((t) => b.includes(t)));
  if (terms.length && !models.length && !backends.length) throw new Error(`--filter "${filter}" matches no model (${MODELS.join(', ')}) and no backend (${BACKENDS.join(', ')})`);
  return { models: models.length ? models : plan.models, backends: backends.length ? backends : [...BACKENDS] };
}

async function runModel(model: BenchModel, backends: BenchBackend[], plan: Plan, o: Options, log: (s: string) => void): Promise<ModelResult> {
  const result: ModelResult = { model, gflopPerStep: stepFlops(model) / 1e9, backends: [] };
  const tmp = mkdtempSync(join(tmpdir(), 'kdgpu-bench-steps-'));
  const weightsPath = join(tmp, `${model}-init.safetensors`);
  const children = new Map<BenchBackend, Child>();
  const byBackend = new Map<BenchBackend, BackendResult>();
  let swiftshader = o.swiftshader ?? (o.adapter === 'swiftshader' || (o.adapter === 'auto' && existsSync(SWIFTSHADER_ICD)));
  let kdgpuDevice: string | undefined;
  try {
    // Start one at a time, kdgpu first: it writes the initial weights and names the adapter.
    for (const backend of backends) {
      const r: BackendResult = { backend, warmup: [], timed: [] };
      byBackend.set(backend, r);
      result.backends.push(r);
      const [script, args] =
        backend === 'kdgpu' ? [join(HERE, 'bench-peer-kdgpu.js'), []] : [join(HERE, 'bench-peer-tfjs.js'), [backend === 'tfjs-webgpu' ? 'webgpu' : 'wasm']];
      const child = new Child(backend, script, args);
      const init: InitMessage = { type: 'init', model, batch: BATCH, seed: SEED, dataDir: o.dataDir };
      if (backend === 'kdgpu') Object.assign(init, { weightsPath, adapter: o.adapter, throttlePolls: o.kdgpuThrottle });
      else if (existsSync(weightsPath)) init.weightsPath = weightsPath;
      if (backend === 'tfjs-webgpu') init.swiftshader = swiftshader;
      try {
        const ready = (await child.request(init)) as ReadyMessage;
        children.set(backend, child);
        Object.assign(r, { device: ready.device, details: ready.details, initMs: ready.initMs });
        if (backend === 'kdgpu') {
          kdgpuDevice = ready.device;
          swiftshader = ready.software === true && existsSync(SWIFTSHADER_ICD);
        }
        if (backend === 'tfjs-webgpu' && kdgpuDevice !== undefined) result.sameAdapter = ready.device === kdgpuDevice;
        log(`  ${model} ${backend}: ready in ${(ready.initMs / 1000).toFixed(1)} s on ${ready.device}`);
      } catch (err) {
        r.error = firstLine(err);
        log(`  ${model} ${backend}: failed to start: ${r.error}`);
        await child.close().catch(() => {});
      }
    }
    if (result.sameAdapter === false) log(`  warning: tfjs-webgpu runs on "${byBackend.get('tfjs-webgpu')!.device}", kdgpu on "${kdgpuDevice}"`);

    const run = async (backend: BenchBackend, steps: number, into: 'warmup' | 'timed') => {
      const child = children.get(backend);
      const r = byBackend.get(backend)!;
      if (!child || steps === 0) return;
      const others = [...children.values()].filter((c) => c !== child);
      const before = others.map((c) => cpuMs(c.pid));
      const t0 = performance.now();
      try {
        const m = await child.request({ type: 'run', steps });
        if (m.type !== 'steps') throw new Error(`unexpected reply ${m.type}`);
        r[into].push(...m.results);
      } catch (err) {
        r.error = firstLine(err);
        log(`  ${model} ${backend}: failed: ${r.error}`);
        children.delete(backend);
        await child.close().catch(() => {});
        return;
      }
      const wall = performance.now() - t0;
      const idle: string[] = [];
      others.forEach((c, i) => {
        const now = cpuMs(c.pid);
        if (now === null || before[i] === null) return;
        idle.push(`${c.backend} ${now - before[i]!} ms`);
        if (into === 'timed') {
          c.idleCpuMs += now - before[i]!;
          c.idleWallMs += wall;
        }
      });
      const ms = r[into].slice(-steps).map((s) => s.ms.toFixed(0));
      log(`  ${model} ${backend} ${into === 'warmup' ? 'warm-up' : 'timed'}: ${ms.join(', ')} ms${idle.length ? ` (CPU of the idle children meanwhile: ${idle.join(', ')})` : ''}`);
    };

    for (const backend of backends) {
      await run(backend, plan.warmup[backend], 'warmup');
      // From the request to build the backend (the engine, the model and, for kdgpu, its
      // pipelines) to the end of its first training step.
      const r = byBackend.get(backend)!;
      if (r.initMs !== undefined && r.warmup.length) {
        r.firstStepMs = r.initMs + r.warmup[0].ms;
        log(`  ${model} ${backend}: time to first step ${(r.firstStepMs / 1000).toFixed(2)} s (ready ${(r.initMs / 1000).toFixed(2)} s, first step ${(r.warmup[0].ms / 1000).toFixed(2)} s)`);
      }
    }
    for (let round = 0; round < plan.rounds; round++) {
      log(`  ${model}: round ${round + 1}/${plan.rounds}`);
      for (const backend of backends) await run(backend, plan.perRound[backend], 'timed');
    }

    for (const r of result.backends) {
      const c = children.get(r.backend);
      if (c && c.idleWallMs > 0) r.idleCpuPercent = (100 * c.idleCpuMs) / c.idleWallMs;
      if (!r.timed.length) continue;
      const ms = r.timed.map((s) => s.ms);
      r.medianMs = median(ms);
      r.minMs = Math.min(...ms);
      r.maxMs = Math.max(...ms);
      r.samplesPerSec = BATCH / (r.medianMs / 1000);
      r.gflops = result.gflopPerStep / (r.medianMs / 1000);
    }
    const k = byBackend.get('kdgpu')?.medianMs;
    if (k) for (const r of result.backends) if (r.medianMs && r.backend !== 'kdgpu') r.kdgpuSpeedup = r.medianMs / k;
    lossSanity(result);
  } finally {
    await Promise.all([...children.values()].map((c) => c.close().catch(() => {})));
    rmSync(tmp, { recursive: true, force: true });
  }
  return result;
}

function firstLine(err: unknown): string {
  const s = err instanceof Error ? err.message : String(err);
  return s.split('\n')[0];
}

const fmt = (x: number | undefined, digits = 1) => (x === undefined ? '-' : x.toFixed(digits));

/** Losses of every step, warm-up included, by step index. */
function losses(r: BackendResult): StepResult[] {
  return [...r.warmup, ...r.timed].sort((a, b) => a.step - b.step);
}

/** Two backends on the same weights and batches agree to float32 rounding; a bug shows at once. */
const TRACK_TOLERANCE = 1e-2;

/**
 * Did each backend train? Its loss should fall from the first to the last step. A peer with few
 * steps (tfjs-webgpu: 4) may not be past the early bumps of the loss yet (the teacher's rises at
 * steps 2-3 on every backend), so a peer whose losses equal kdgpu's at equal steps, where kdgpu's
 * fell, also passes.
 */
function lossSanity(m: ModelResult): void {
  const kd = m.backends.find((b) => b.backend === 'kdgpu');
  const ref = new Map(kd ? losses(kd).map((s) => [s.step, s.loss] as const) : []);
  // kdgpu first: the peers' verdicts use its.
  for (const r of [...m.backends].sort((a, b) => Number(b.backend === 'kdgpu') - Number(a.backend === 'kdgpu'))) {
    const l = losses(r);
    if (!l.length) continue;
    const first = l[0];
    const last = l[l.length - 1];
    const decreased = Number.isFinite(last.loss) && last.loss < first.loss;
    let maxDiffVsKdgpu: number | undefined;
    let commonSteps = 0;
    if (r.backend !== 'kdgpu') {
      for (const s of l) {
        const k = ref.get(s.step);
        if (k === undefined) continue;
        commonSteps++;
        maxDiffVsKdgpu = Math.max(maxDiffVsKdgpu ?? 0, Number.isFinite(s.loss) ? Math.abs(s.loss - k) : Infinity);
      }
    }
    const tracks = maxDiffVsKdgpu !== undefined && maxDiffVsKdgpu < TRACK_TOLERANCE;
    const kdgpuDecreased = kd?.sanity?.decreased ?? false;
    let verdict: string;
    if (r.backend === 'kdgpu') verdict = decreased ? 'ok' : 'CHECK: loss did not fall';
    else if (maxDiffVsKdgpu !== undefined && !tracks) verdict = 'CHECK: differs from kdgpu';
    else if (decreased) verdict = 'ok';
    else if (tracks && kdgpuDecreased) verdict = 'ok (equals kdgpu, whose loss fell)';
    else verdict = 'CHECK: loss did not fall';
    r.sanity = { firstStep: first.step, firstLoss: first.loss, lastStep: last.step, lastLoss: last.loss, decreased, maxDiffVsKdgpu, commonSteps, verdict };
  }
}

export function report(models: ModelResult[]): string {
  const out: string[] = [];
  const rows: string[][] = [];
  for (const m of models) {
    for (const r of m.backends) {
      rows.push([
        m.model,
        r.backend,
        r.error && !r.timed.length ? `failed: ${r.error}` : String(r.timed.length),
        fmt(r.medianMs),
        r.minMs === undefined ? '-' : `${fmt(r.minMs)}-${fmt(r.maxMs)}`,
        fmt(r.samplesPerSec),
        fmt(r.gflops, 2),
        r.backend === 'kdgpu' ? '1.00x' : r.kdgpuSpeedup === undefined ? '-' : `${r.kdgpuSpeedup.toFixed(2)}x`,
      ]);
    }
  }
  out.push(formatTable(['model', 'backend', 'timed steps', 'median ms/step', 'min-max ms', 'samples/s', 'GFLOP/s', 'kdgpu speed-up (peer ms / kdgpu ms)'], rows));

  const sanity: string[][] = [];
  for (const m of models) {
    for (const r of m.backends) {
      const q = r.sanity;
      if (!q) continue;
      sanity.push([
        m.model,
        r.backend,
        `${q.firstLoss.toFixed(4)} (step ${q.firstStep})`,
        `${q.lastLoss.toFixed(4)} (step ${q.lastStep})`,
        q.decreased ? 'yes' : 'no',
        q.maxDiffVsKdgpu === undefined ? '-' : `${q.maxDiffVsKdgpu.toExponential(1)} over ${q.commonSteps} steps`,
        q.verdict,
      ]);
    }
  }
  out.push('', 'Loss sanity (same initial weights and batches on every backend; step k trains on batch k):');
  out.push(formatTable(['model', 'backend', 'first loss', 'last loss', 'decreased', 'max |loss - kdgpu loss| at equal steps', 'verdict'], sanity));
  return out.join('\n');
}

export async function runStepsBench(argv: string[], log: (s: string) => void = (s) => process.stdout.write(s + '\n')): Promise<ModelResult[]> {
  const o = parseArgs(argv);
  const base = o.quick ? QUICK : FULL;
  const every = (n: number | undefined, d: Record<BenchBackend, number>) => (n === undefined ? d : (Object.fromEntries(BACKENDS.map((b) => [b, n])) as Record<BenchBackend, number>));
  const plan: Plan = { ...base, rounds: o.rounds ?? base.rounds, warmup: every(o.warmup, base.warmup), perRound: every(o.perRound, base.perRound) };
  const { models, backends } = select(o.filter, plan);
  log(`bench steps${o.quick ? ' (quick)' : ''}: ${models.join(', ')} x ${backends.join(', ')}; batch ${BATCH}, Fashion-MNIST ${INPUT.channels}x${INPUT.height}x${INPUT.width}, SGD lr ${RECIPE.lr} momentum ${RECIPE.momentum} weight decay ${RECIPE.weightDecay}`);
  log(`  ${plan.rounds} rounds; per backend: warm-up ${backends.map((b) => `${b} ${plan.warmup[b]}`).join(', ')}; timed steps per round ${backends.map((b) => `${b} ${plan.perRound[b]}`).join(', ')}`);
  log('  a step = Batcher.fill of 128 examples on the host + upload + forward/backward/update + one host read of the loss');
  const started = Date.now();
  // The `kdgpu bench` process that launched this one holds an (idle) engine: check it stays idle.
  const launcherCpu0 = cpuMs(process.ppid);
  const results: ModelResult[] = [];
  for (const model of models) results.push(await runModel(model, backends, plan, o, log));
  const launcherCpu1 = cpuMs(process.ppid);
  const launcherIdleCpuPercent =
    launcherCpu0 !== null && launcherCpu1 !== null ? (100 * (launcherCpu1 - launcherCpu0)) / (Date.now() - started) : undefined;

  log('');
  log(report(results));
  for (const m of results) {
    const idle = m.backends.filter((b) => (b.idleCpuPercent ?? 0) > 2);
    if (idle.length) log(`warning: ${m.model}: idle children used CPU while others were timed: ${idle.map((b) => `${b.backend} ${b.idleCpuPercent!.toFixed(1)}%`).join(', ')}`);
    if (m.sameAdapter === false) log(`warning: ${m.model}: kdgpu and tfjs-webgpu ran on different adapters`);
  }
  if ((launcherIdleCpuPercent ?? 0) > 2) log(`warning: the launching process (pid ${process.ppid}) used ${launcherIdleCpuPercent!.toFixed(1)}% CPU meanwhile`);
  const json = o.json ?? join(ROOT, 'bench', 'out', 'steps.json');
  mkdirSync(dirname(resolve(json)), { recursive: true });
  writeFileSync(
    json,
    JSON.stringify(
      {
        date: new Date().toISOString(),
        suite: 'steps',
        quick: o.quick,
        machine: { cpus: cpus().length, cpu: cpus()[0]?.model, node: process.version, platform: process.platform },
        config: { batch: BATCH, seed: SEED, input: INPUT, recipe: RECIPE, plan: { ...plan, models } },
        step: 'Batcher.fill (host copy of 128 examples) + upload + forward + backward + SGD-momentum update + one host read of the loss',
        wallSeconds: (Date.now() - started) / 1000,
        launcherIdleCpuPercent,
        models: results,
      },
      null,
      2,
    ),
  );
  log(`\nwrote ${json} (${((Date.now() - started) / 1000).toFixed(0)} s)`);
  return results;
}

// Run when executed as the bundle's entry point (dist/bench-steps.js).
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  runStepsBench(process.argv.slice(2)).then(
    () => process.exit(0),
    (err) => {
      process.stderr.write(`bench steps: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
