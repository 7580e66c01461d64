// Structured label noise for training a teacher that is wrong in a known way (method.md §3b): a
// rate p of the training labels of chosen classes moved to a partner class (pairs swapped both
// ways, e.g. Shirt↔T-shirt/top), or to a uniformly drawn other class. Seeded, with exact counts:
// round(p · n_c) samples of each noisy class c, chosen by a seeded permutation.

import { Rng } from '../util/rng.js';

export interface LabelNoise {
  /** Fraction of each noisy class's samples relabelled, in [0, 1]. */
  rate: number;
  /** Class pairs [a, b] whose labels are swapped (a → b and b → a); absent: every class, to a random other. */
  pairs?: Array<[number, number]>;
  seed: number;
}

/** "6:0,2:4" → [[6, 0], [2, 4]], each class in at most one pair, every class below `classes`. */
export function parseNoisePairs(text: string, classes: number): Array<[number, number]> {
  const seen = new Set<number>();
  return text.split(',').map((item) => {
    const m = /^\s*(\d+)\s*:\s*(\d+)\s*$/.exec(item);
    if (!m) throw new Error(`noise pairs: "${item}" is not a pair of class numbers "a:b" (e.g. 6:0,2:4)`);
    const [a, b] = [Number(m[1]), Number(m[2])];
    for (const c of [a, b]) {
      if (c >= classes) throw new Error(`noise pairs: class ${c} in "${item}" is not below the data's ${classes} classes`);
      if (seen.has(c)) throw new Error(`noise pairs: class ${c} is in more than one pair (or paired with itself) in "${text}"`);
      seen.add(c);
    }
    return [a, b] as [number, number];
  });
}

/**
 * A copy of `labels` with noise on the samples `rows` (the others untouched), and what moved:
 * flipped[c] = samples of class c relabelled.
 */
export function addLabelNoise(labels: Uint32Array, rows: Uint32Array, classes: number, o: LabelNoise): { labels: Uint32Array; flipped: number[] } {
  if (!(o.rate >= 0 && o.rate <= 1)) throw new Error(`label noise: the rate must be in [0, 1], got ${o.rate}`);
  if (classes < 2) throw new Error(`label noise needs at least 2 classes, got ${classes}`);
  const partner = new Map<number, number>();
  for (const [a, b] of o.pairs ?? []) {
    partner.set(a, b);
    partner.set(b, a);
  }
  const out = Uint32Array.from(labels);
  const flipped = new Array<number>(classes).fill(0);
  const rng = new Rng(o.seed * 104729 + 7);
  for (let c = 0; c < classes; c++) {
    if (o.pairs && !partner.has(c)) continue;
    const members = rows.filter((k) => labels[k] === c);
    const count = Math.round(o.rate * members.length);
    const order = rng.permutation(members.length);
    for (let i = 0; i < count; i++) {
      const k = members[order[i]];
      const other = partner.get(c) ?? (c + 1 + rng.int(classes - 1)) % classes;
      out[k] = other;
    }
    flipped[c] = count;
  }
  return { labels: out, flipped };
}
