// Derived seeds: one user seed feeds several independent random streams (subset, validation split,
// shuffling per epoch, augmentation per epoch), so changing one use never shifts another, and any
// epoch's stream can be recreated directly, which is what makes a resumed run equal an
// uninterrupted one.

/** Named streams; the numbers are part of the reproducibility contract, never renumber them. */
export const SeedStream = {
  subset: 1,
  validation: 2,
  shuffle: 3,
  augment: 4,
} as const;

/** murmur3's 32-bit finaliser: a bijection on u32 with full avalanche. */
export function mix32(x: number): number {
  x = (x ^ (x >>> 16)) >>> 0;
  x = Math.imul(x, 0x85ebca6b) >>> 0;
  x = (x ^ (x >>> 13)) >>> 0;
  x = Math.imul(x, 0xc2b2ae35) >>> 0;
  return (x ^ (x >>> 16)) >>> 0;
}

/**
 * The seed of stream `stream`, item `index` (an epoch, usually), under user seed `seed`:
 *
 *     h = mix32(seed ^ 0x5bd1e995); h = mix32(h ^ stream); return mix32(h + index * 0x9e3779b9)
 *
 * (all u32 arithmetic). For a fixed seed and stream, distinct indices give distinct seeds, since
 * every step is a bijection.
 */
export function deriveSeed(seed: number, stream: number, index: number): number {
  let h = mix32((seed ^ 0x5bd1e995) >>> 0);
  h = mix32((h ^ stream) >>> 0);
  return mix32((h + Math.imul(index >>> 0, 0x9e3779b9)) >>> 0);
}
