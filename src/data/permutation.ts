/**
 * The per-epoch order of training windows: a Fisher–Yates shuffle of [0, M) driven by the
 * counter-based generator, so the permutation of epoch e is a pure function of (seed, e, M) and
 * nothing but the sample cursor ever has to be saved.
 *
 * Each epoch draws from its own stream, `streamId("data.permutation")` xor `epoch · φ32` (an odd
 * multiplier, so distinct epochs below 2^32 get distinct streams); the counter is the draw index.
 */
import { streamId, uniformInt } from "../tensor/rng.ts"

export const PERMUTATION_STREAM = streamId("data.permutation")

export const permutationStream = (epoch: number): number =>
  (PERMUTATION_STREAM ^ Math.imul(epoch >>> 0, 0x9e3779b9)) >>> 0

export const epochPermutation = (seed: number, epoch: number, windows: number): Int32Array => {
  const perm = new Int32Array(windows)
  for (let i = 0; i < windows; i++) perm[i] = i
  const stream = permutationStream(epoch)
  for (let i = windows - 1, draw = 0; i > 0; i--, draw++) {
    const j = uniformInt(seed, stream, draw, i + 1)
    const t = perm[i]
    perm[i] = perm[j]
    perm[j] = t
  }
  return perm
}
