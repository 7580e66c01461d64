// The optimizer: one fused update over the model's flat parameter buffer per step, with the
// learning rate from a schedule evaluated on the host (a uniform, so no readback).

import { elementwise } from '../kernels/elementwise.js';
import { optimizerUpdate, type OptimizerRule } from '../kernels/optim.js';
import type { ParameterStore } from '../nn/parameters.js';

export type { OptimizerRule };

export type Schedule =
  | { kind: 'constant' }
  | { kind: 'step'; milestones: number[]; gamma: number }
  | { kind: 'cosine'; totalSteps: number; minLr?: number };

export type ScheduleKind = 'constant' | 'cosine' | 'step';

/** The schedule of a run of `totalSteps` steps: cosine to 0, or steps of 0.1 at 50% and 75%, or constant. */
export function scheduleFor(kind: ScheduleKind, totalSteps: number): Schedule {
  if (kind === 'cosine') return { kind: 'cosine', totalSteps };
  if (kind === 'step') return { kind: 'step', milestones: [0.5, 0.75].map((f) => Math.round(f * totalSteps)), gamma: 0.1 };
  return { kind: 'constant' };
}

/** Learning rate at `step` (0-based) for base rate `lr`. Step milestones are in steps. */
export function learningRate(lr: number, schedule: Schedule, step: number): number {
  switch (schedule.kind) {
    case 'constant':
      return lr;
    case 'step':
      return lr * schedule.gamma ** schedule.milestones.filter((m) => step >= m).length;
    case 'cosine': {
      const t = Math.min(step / Math.max(1, schedule.totalSteps), 1);
      const min = schedule.minLr ?? 0;
      return min + 0.5 * (lr - min) * (1 + Math.cos(Math.PI * t));
    }
  }
}

export class Optimizer {
  /** Updates applied so far. */
  stepCount = 0;
  private m: GPUBuffer;
  private v: GPUBuffer;
  /** The numeric guard's record (updates stop once it holds a fault); a zero record if unguarded. */
  private health: GPUBuffer;
  private ownsHealth: boolean;

  constructor(
    private store: ParameterStore,
    readonly rule: OptimizerRule,
    readonly lr: number,
    readonly schedule: Schedule = { kind: 'constant' },
    health?: GPUBuffer,
  ) {
    if (!(lr > 0) || !Number.isFinite(lr)) throw new Error(`learning rate must be a positive number, got ${lr}`);
    const n = Math.max(1, store.paramFloats);
    this.m = store.engine.upload(new Float32Array(n), 'optimizer-m');
    this.v = store.engine.upload(new Float32Array(rule.kind === 'adam' ? n : 1), 'optimizer-v');
    this.ownsHealth = !health;
    this.health = health ?? store.engine.upload(new Uint32Array(4), 'health');
  }

  currentLr(): number {
    return learningRate(this.lr, this.schedule, this.stepCount);
  }

  /**
   * Apply one update from the gradients of this step. A parameter that received no gradient
   * this step (unused by the loss) gets zeros rather than last step's stale values.
   */
  step(): void {
    const engine = this.store.engine;
    const { params, grads } = this.store.buffers;
    for (const p of this.store.trainable()) {
      // fill reads neither input; the parameters stand in for them (a binding must not alias the output).
      if (!p.gradWritten) elementwise(engine, 'fill', params, params, p.gradSlot!, p.size, 0);
    }
    this.stepCount++;
    optimizerUpdate(
      engine,
      this.rule,
      { param: params, grad: grads, m: this.m, v: this.v, health: this.health },
      this.store.paramFloats,
      learningRate(this.lr, this.schedule, this.stepCount - 1),
      this.stepCount,
    );
  }

  /** Optimizer state for checkpoints: the moment buffers and the step count. */
  async readState(): Promise<{ m: Float32Array; v: Float32Array; step: number }> {
    const engine = this.store.engine;
    const m = await engine.readF32(this.m, this.store.paramFloats);
    const v = this.rule.kind === 'adam' ? await engine.readF32(this.v, this.store.paramFloats) : new Float32Array(0);
    return { m, v, step: this.stepCount };
  }

  writeState(state: { m: Float32Array; v: Float32Array; step: number }): void {
    const engine = this.store.engine;
    if (state.m.length !== this.store.paramFloats) throw new Error(`optimizer state has ${state.m.length} values, the model needs ${this.store.paramFloats}`);
    engine.write(this.m, state.m);
    if (this.rule.kind === 'adam') engine.write(this.v, state.v);
    this.stepCount = state.step;
  }

  destroy(): void {
    this.store.engine.release(this.m);
    this.store.engine.release(this.v);
    if (this.ownsHealth) this.store.engine.release(this.health);
  }
}
