/**
 * Choosing the next token from one row of logits: greedy argmax, or a draw from
 * `softmax(logits / T)` restricted to the `k` most likely candidates.
 *
 * Plain synchronous code over typed arrays: it runs once per generated token and allocates
 * nothing (the caller owns the scratch buffers).
 */
import type { FloatArray } from "../tensor/tensor.ts"

/**
 * The candidate with the largest logit; ties go to the lowest id. NaN and −∞ never win, so the
 * result is -1 when every logit is one of them (the same cases in which sampling has no choice).
 */
export const argmax = (logits: FloatArray, offset: number, count: number): number => {
  let best = -1
  let bestValue = -Infinity
  for (let i = 0; i < count; i++) {
    const value = logits[offset + i]
    if (value > bestValue) {
      best = i
      bestValue = value
    }
  }
  return best
}

export interface ChoiceScratch {
  /** Candidate ids, at least `count` long. */
  readonly ids: Int32Array
  /** Unnormalised probabilities, at least `count` long. */
  readonly weights: Float64Array
}

export const makeChoiceScratch = (count: number): ChoiceScratch => ({
  ids: new Int32Array(count),
  weights: new Float64Array(count)
})

/**
 * Samples from `softmax(logits[offset … offset+count) / temperature)`, keeping only the `topK`
 * largest logits when `0 < topK < count` (ties at the cut-off kept by lowest id). `u` is a uniform
 * draw in [0, 1): the choice is the inverse CDF at `u` over the candidates in id order, so the
 * same `u` always gives the same token. NaN logits are never chosen; -1 if every logit is NaN
 * or −∞.
 */
export const sampleToken = (
  logits: FloatArray,
  offset: number,
  count: number,
  temperature: number,
  topK: number,
  u: number,
  scratch: ChoiceScratch
): number => {
  const { ids, weights } = scratch
  let n = 0
  let max = -Infinity
  for (let i = 0; i < count; i++) {
    const value = logits[offset + i]
    if (value > -Infinity) { // false for NaN and −∞: neither can be drawn
      ids[n++] = i
      if (value > max) max = value
    }
  }
  if (n === 0) return -1
  if (max === Infinity) return argmax(logits, offset, count)

  if (topK > 0 && topK < n) {
    // Keep what lies above the k-th largest value, then as many ties with it as still fit.
    const threshold = kthLargest(logits, offset, ids, n, topK, weights)
    let above = 0
    for (let j = 0; j < n; j++) if (logits[offset + ids[j]] > threshold) above++
    let tiesLeft = topK - above // candidates equal to the threshold that still fit
    let kept = 0
    for (let j = 0; j < n; j++) {
      const value = logits[offset + ids[j]]
      if (value > threshold) {
        ids[kept++] = ids[j]
      } else if (value === threshold && tiesLeft > 0) {
        ids[kept++] = ids[j]
        tiesLeft--
      }
    }
    n = kept
  }

  let total = 0
  for (let j = 0; j < n; j++) {
    const w = Math.exp((logits[offset + ids[j]] - max) / temperature)
    weights[j] = w
    total += w
  }
  const target = u * total
  let cumulative = 0
  let last = ids[0]
  for (let j = 0; j < n; j++) {
    if (weights[j] === 0) continue
    cumulative += weights[j]
    last = ids[j]
    if (cumulative > target) return last
  }
  // Rounding left the running sum at or below the target: the last candidate with weight.
  return last
}

/** The `k`-th largest logit among the `n` candidates in `ids` (uses `buffer` as scratch). */
const kthLargest = (
  logits: FloatArray,
  offset: number,
  ids: Int32Array,
  n: number,
  k: number,
  buffer: Float64Array
): number => {
  for (let j = 0; j < n; j++) buffer[j] = logits[offset + ids[j]]
  // Vocabularies are small (bytes): sorting a view of the scratch is simpler than a selection.
  const values = buffer.subarray(0, n).sort()
  return values[n - k]
}
