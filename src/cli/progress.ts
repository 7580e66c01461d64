// Progress for train and distill: a bar (cli-progress) on a terminal; on a pipe or a file, a
// heartbeat line about every 10 s, so a log shows the run is alive between epochs. Before the
// first step completes, a phase with its own timer: the run's GPU pipelines are built (seconds on
// a CPU adapter) and, for distill, the teacher's logits computed; its last line gives the
// pipelines' share separately.

import { SingleBar } from 'cli-progress';

export interface EpochBar {
  update(step: number, loss: number, accuracy: number, samplesPerSecond: number): void;
  stop(): void;
}

/** Seconds between heartbeat lines when stdout is not a terminal. */
export const HEARTBEAT_SECONDS = 10;

const tty = () => Boolean(process.stdout.isTTY);

export function epochBar(enabled: boolean, label: string, steps: number, out: (s: string) => void = (s) => process.stdout.write(s + '\n')): EpochBar {
  if (!enabled) return { update() {}, stop() {} };
  if (!tty()) {
    let next = Date.now() + HEARTBEAT_SECONDS * 1000;
    return {
      update(step, loss, accuracy, rate) {
        if (Date.now() < next || step >= steps) return;
        next = Date.now() + HEARTBEAT_SECONDS * 1000;
        out(`${label}: step ${step}/${steps}, loss ${loss.toFixed(4)}, train accuracy ${(100 * accuracy).toFixed(1)}%, ${rate.toFixed(0)} samples/s`);
      },
      stop() {},
    };
  }
  const bar = new SingleBar({
    format: `${label} [{bar}] {value}/{total} | loss {loss} | acc {acc} | {rate} samples/s | ETA {eta_formatted}`,
    hideCursor: true,
    etaBuffer: 50,
    clearOnComplete: true,
  });
  bar.start(steps, 0, { loss: '-', acc: '-', rate: '-' });
  return {
    update(step, loss, accuracy, rate) {
      bar.update(step, { loss: loss.toFixed(4), acc: `${(100 * accuracy).toFixed(1)}%`, rate: rate.toFixed(0) });
    },
    stop() {
      bar.stop();
    },
  };
}

export interface Phase {
  /** End the phase, printing how long it took and `detail`. */
  end(detail?: string): void;
}

/**
 * A phase before the first progress: a line with a running timer on a terminal (redrawn every
 * second, with `status()` appended), or a line at the start and a heartbeat on a pipe.
 */
export function phase(enabled: boolean, label: string, status: () => string, out: (s: string) => void = (s) => process.stdout.write(s + '\n')): Phase {
  const started = Date.now();
  const secs = () => ((Date.now() - started) / 1000).toFixed(0);
  if (!enabled) return { end() {} };
  let timer: ReturnType<typeof setInterval>;
  if (tty()) {
    const draw = () => process.stdout.write(`\r${label}… ${secs()} s${status() ? ` (${status()})` : ''}\x1b[K`);
    draw();
    timer = setInterval(draw, 1000);
  } else {
    out(`${label}…`);
    timer = setInterval(() => out(`${label}… ${secs()} s${status() ? ` (${status()})` : ''}`), HEARTBEAT_SECONDS * 1000);
  }
  timer.unref?.();
  let ended = false;
  return {
    end(detail) {
      if (ended) return;
      ended = true;
      clearInterval(timer);
      const line = `${label}: ${((Date.now() - started) / 1000).toFixed(1)} s${detail ? `, ${detail}` : ''}`;
      if (tty()) process.stdout.write(`\r${line}\x1b[K\n`);
      else out(line);
    },
  };
}

/** What a train or distill run shows: the compile phase, then a bar (or heartbeat) per epoch. */
export class RunProgress {
  private bar: EpochBar | null = null;
  private barEpoch = 0;
  private compiling: Phase;

  constructor(
    private enabled: boolean,
    private epochs: number,
    phaseLabel: string,
    private engine: { compiledPipelines: number; compileSeconds: number },
    private out: (s: string) => void,
  ) {
    this.compiling = phase(enabled, phaseLabel, () => `${engine.compiledPipelines} pipelines built`, out);
  }

  /** A progress report of the loop (the first one ends the phase, which includes the first step). */
  step(p: { epoch: number; step: number; stepsPerEpoch: number; loss: number; accuracy: number; samplesPerSecond: number }): void {
    this.compiling.end(`first step done; ${this.engine.compiledPipelines} GPU pipelines built in ${this.engine.compileSeconds.toFixed(1)} s of it`);
    if (p.epoch !== this.barEpoch) {
      this.bar?.stop();
      this.bar = epochBar(this.enabled, `epoch ${p.epoch}/${this.epochs}`, p.stepsPerEpoch, this.out);
      this.barEpoch = p.epoch;
    }
    this.bar!.update(p.step, p.loss, p.accuracy, p.samplesPerSecond);
  }

  /** Before an epoch's lines are printed. */
  epochEnd(): void {
    this.bar?.stop();
    this.bar = null;
    this.barEpoch = 0;
  }

  /** When the run stops early (an error). */
  stop(): void {
    this.compiling.end();
    this.bar?.stop();
  }
}
