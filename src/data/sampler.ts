/**
 * The deterministic sampler. Global sample g (the data cursor counts samples, never per-rank
 * positions) is training window perm_e(g mod M) of epoch e = ⌊g / M⌋. Any run that consumes
 * consecutive samples — in whatever step sizes, across whatever resumes — therefore sees every
 * window exactly once per epoch.
 *
 * The only state is a cache of recently used epoch permutations (building one is O(M)); it changes
 * no result.
 */
import { type Batch, gatherWindows } from "./batch.ts"
import { epochPermutation } from "./permutation.ts"
import type { WindowedPart } from "./split.ts"

export interface WindowSampler {
  readonly seed: number
  /** M, the number of training windows (samples per epoch). */
  readonly windows: number
  readonly epochOf: (g: number) => number
  /** The window index of global sample g. */
  readonly windowAt: (g: number) => number
  /** Window indices of samples [cursor, cursor + count); may cross epoch boundaries. */
  readonly windowsAt: (cursor: number, count: number) => Int32Array
}

export interface Sampler extends WindowSampler {
  /** Inputs and targets of samples [cursor, cursor + count). */
  readonly batchAt: (cursor: number, count: number) => Batch
}

const CACHED_EPOCHS = 2

const checkRange = (cursor: number, count: number): void => {
  if (!Number.isSafeInteger(cursor) || cursor < 0) {
    throw new RangeError(`sample cursor ${cursor} is not a non-negative integer`)
  }
  if (!Number.isSafeInteger(count) || count < 0) {
    throw new RangeError(`sample count ${count} is not a non-negative integer`)
  }
  if (!Number.isSafeInteger(cursor + count)) {
    throw new RangeError(`sample range [${cursor}, ${cursor} + ${count}) overflows`)
  }
}

export const makeWindowSampler = (seed: number, windows: number): WindowSampler => {
  if (!Number.isSafeInteger(windows) || windows < 1) {
    throw new RangeError(`window count ${windows} must be a positive integer`)
  }
  // Most recently used first; a batch crossing an epoch boundary needs two epochs at once.
  const cache: Array<{ readonly epoch: number; readonly perm: Int32Array }> = []
  const permutationOf = (epoch: number): Int32Array => {
    const hit = cache.findIndex((c) => c.epoch === epoch)
    if (hit >= 0) {
      const [entry] = cache.splice(hit, 1)
      cache.unshift(entry)
      return entry.perm
    }
    const perm = epochPermutation(seed, epoch, windows)
    cache.unshift({ epoch, perm })
    if (cache.length > CACHED_EPOCHS) cache.pop()
    return perm
  }
  const epochOf = (g: number): number => Math.floor(g / windows)
  const windowAt = (g: number): number => {
    checkRange(g, 1)
    return permutationOf(epochOf(g))[g % windows]
  }
  const windowsAt = (cursor: number, count: number): Int32Array => {
    checkRange(cursor, count)
    const out = new Int32Array(count)
    let k = 0
    while (k < count) {
      const g = cursor + k
      const perm = permutationOf(epochOf(g))
      const end = Math.min(count, k + windows - (g % windows))
      for (let i = g % windows; k < end; k++, i++) out[k] = perm[i]
    }
    return out
  }
  return { seed, windows, epochOf, windowAt, windowsAt }
}

/** The sampler over a split's training windows. */
export const makeSampler = (seed: number, train: WindowedPart): Sampler => {
  const sampler = makeWindowSampler(seed, train.windows)
  return { ...sampler, batchAt: (cursor, count) => gatherWindows(train, sampler.windowsAt(cursor, count)) }
}
