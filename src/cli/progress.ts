// The progress bar shared by train and distill (cli-progress), off when stdout is not a terminal.

import { SingleBar } from 'cli-progress';

export interface EpochBar {
  update(step: number, loss: number, accuracy: number, samplesPerSecond: number): void;
  stop(): void;
}

export function epochBar(enabled: boolean, label: string, steps: number): EpochBar {
  if (!enabled || !process.stdout.isTTY) return { update() {}, stop() {} };
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
