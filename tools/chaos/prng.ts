import { createHash } from 'node:crypto';

/**
 * A seeded PRNG (mulberry32): the chaos harness draws every random choice (kill points, latencies,
 * faults) from one, so a printed seed replays the same choices. Timing on a real machine still
 * varies, so a seed reproduces the plan of a round, not its exact interleaving.
 */
export class Prng {
  private state: number;

  constructor(seed: string) {
    this.state = createHash('sha256').update(seed).digest().readUInt32LE(0);
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) | 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Uniform integer in [min, max] (both inclusive). */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  chance(probability: number): boolean {
    return this.next() < probability;
  }

  /** A child generator with its own stream, so drawing from one never shifts the other. */
  fork(label: string): Prng {
    return new Prng(`${this.int(0, 2 ** 31)}:${label}`);
  }
}
