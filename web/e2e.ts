// What the end-to-end test reads of the page (window.kdgpuDemo): the state, the charts, and the
// page thread's pulse.

import { $ } from './dom.js';
import { state } from './state.js';
import { chartSummaries } from './views.js';

/**
 * The page thread's pulse: frames drawn, and the longest delay of a 50 ms timer (event-loop lag).
 * Training runs in the worker, so the lag stays small while it trains (the test checks it).
 */
export const pulse = { frames: 0, maxFrameGapMs: 0, maxTimerLagMs: 0 };
export function heartbeat(): void {
  let lastFrame = performance.now();
  const tick = (now: number) => {
    pulse.frames++;
    state.frames = pulse.frames;
    pulse.maxFrameGapMs = Math.max(pulse.maxFrameGapMs, now - lastFrame);
    lastFrame = now;
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
  let expected = performance.now() + 50;
  setInterval(() => {
    const now = performance.now();
    pulse.maxTimerLagMs = Math.max(pulse.maxTimerLagMs, now - expected);
    expected = now + 50;
    $('heartbeat').textContent = `page thread: ${pulse.frames} frames drawn; longest event-loop delay ${pulse.maxTimerLagMs.toFixed(0)} ms, longest gap between frames ${pulse.maxFrameGapMs.toFixed(0)} ms`;
  }, 50);
}

declare global {
  interface Window {
    kdgpuDemo: { state: typeof state; pulse: typeof pulse; resetPulse: () => void; charts: () => Record<string, unknown> };
  }
}

/** window.kdgpuDemo: what the end-to-end test reads and calls. */
export function e2eHooks(): void {
  window.kdgpuDemo = {
    state,
    pulse,
    resetPulse: () => Object.assign(pulse, { maxFrameGapMs: 0, maxTimerLagMs: 0 }),
    charts: chartSummaries,
  };
}
