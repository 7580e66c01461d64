// What a device reports late: validation and compile errors (error scopes, uncaptured errors),
// allocations it could not back, and its loss. They are collected here as they come and thrown,
// named, at the engine's next dispatch, read or settle.

import type { BufferPool } from './pool.js';

export class DeviceErrors {
  private messages: string[] = [];
  /** Allocations the device could not back (reported asynchronously by the pool). */
  private outOfMemory: string[] = [];
  private lostReason: string | null = null;
  /** Promises that may still add to the errors (error scopes, allocation checks, timestamp reads). */
  private pending: Array<Promise<unknown>> = [];

  push(message: string): void {
    this.messages.push(message);
  }

  noteOutOfMemory(message: string): void {
    this.outOfMemory.push(message);
  }

  noteLost(reason: string): void {
    this.lostReason = reason;
  }

  /** Track a promise whose outcome may report an error. */
  watch(p: Promise<unknown>): void {
    this.pending.push(p);
  }

  /** Wait for every promise watched so far. */
  async drain(): Promise<void> {
    await Promise.all(this.pending);
    this.pending = [];
  }

  /** Throw what was collected, the most telling first: a lost device, a failed allocation, then validation errors. */
  throwIfAny(pool: BufferPool): void {
    if (this.lostReason) throw new Error(this.lostReason);
    // A failed allocation shows first as validation errors of the dispatches that use the buffer,
    // before its own out-of-memory check comes back: name the cause, and stop recording.
    if (this.messages.length > 0 && pool.allocationsUnconfirmed) {
      const oom = this.messages.map((e) => pool.explainInvalidBuffer(e)).find((m) => m !== null);
      if (oom) {
        this.messages = [];
        throw new Error(oom);
      }
    }
    if (this.outOfMemory.length > 0) {
      // The validation errors that follow (dispatches over the invalid buffer) add nothing.
      const msg = this.outOfMemory[0];
      this.outOfMemory = [];
      this.messages = [];
      throw new Error(msg);
    }
    if (this.messages.length > 0) {
      const msg = this.messages.join('\n');
      this.messages = [];
      throw new Error(`WebGPU error: ${msg}`);
    }
  }
}
