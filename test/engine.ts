// One engine per test file, on whatever adapter `auto` picks (SwiftShader on CI).
import { afterAll } from 'vitest';
import { createNodeEngine } from '../src/gpu/node.js';
import type { Engine } from '../src/gpu/engine.js';

let engine: Promise<Engine> | null = null;

export function testEngine(): Promise<Engine> {
  if (!engine) {
    engine = createNodeEngine({ log: () => {} });
    afterAll(async () => (await engine!).destroy());
  }
  return engine;
}
