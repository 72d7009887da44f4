/**
 * Numeric helpers for plotting long series: a light exponential smoothing that restarts at resume
 * points, and a thinning that bounds the number of points drawn without hiding spikes.
 */

/**
 * Smoothing window (in points) for a series of `n` points: about 1% of the run, at least 1 (no
 * smoothing) and at most 100, so short runs are drawn raw and long ones stay readable.
 */
export const smoothingWindow = (n: number): number => Math.min(100, Math.max(1, Math.round(n / 100)))

/** EMA weight equivalent to a simple moving average over `window` points. */
export const emaWeight = (window: number): number => 1 - 2 / (window + 1)

/**
 * Bias-corrected exponential moving average of `values`, restarted at every index in
 * `restarts` (so a jump at a resume is drawn as a jump, not blurred into the previous trajectory).
 * NaN inputs give NaN outputs and leave the average unchanged.
 */
export const emaSmooth = (values: Float64Array, restarts: ReadonlyArray<number>, weight: number): Float64Array => {
  const out = new Float64Array(values.length)
  const restartAt = new Uint8Array(values.length)
  for (const i of restarts) if (i >= 0 && i < values.length) restartAt[i] = 1
  let average = 0
  let norm = 0 // 1 - weight^k after k finite points: divides out the zero start
  for (let i = 0; i < values.length; i++) {
    if (restartAt[i] === 1) {
      average = 0
      norm = 0
    }
    const x = values[i]
    if (Number.isNaN(x)) {
      out[i] = NaN
      continue
    }
    average = weight * average + (1 - weight) * x
    norm = weight * norm + (1 - weight)
    out[i] = average / norm
  }
  return out
}

/**
 * Indices of the points to draw so that at most about `maxPoints` remain: the series is cut into
 * equal buckets and each keeps its minimum and maximum (in order), plus the first and last point.
 * Spikes survive, which plain striding would drop. Returns every index when already small enough.
 */
export const thinIndices = (values: Float64Array, maxPoints: number): Array<number> => {
  const n = values.length
  if (n <= maxPoints) return Array.from({ length: n }, (_, i) => i)
  const buckets = Math.max(1, Math.floor((maxPoints - 2) / 2))
  const kept: Array<number> = [0]
  for (let b = 0; b < buckets; b++) {
    const start = Math.floor((b * n) / buckets)
    const end = Math.floor(((b + 1) * n) / buckets)
    let lo = -1
    let hi = -1
    for (let i = start; i < end; i++) {
      const x = values[i]
      if (Number.isNaN(x)) continue
      if (lo < 0 || x < values[lo]) lo = i
      if (hi < 0 || x > values[hi]) hi = i
    }
    if (lo < 0) {
      kept.push(start) // an all-NaN bucket: keep one point so the gap stays visible
      continue
    }
    if (lo === hi) kept.push(lo)
    else kept.push(Math.min(lo, hi), Math.max(lo, hi))
  }
  if (kept[kept.length - 1] !== n - 1) kept.push(n - 1)
  // the first bucket may have picked index 0 again
  return kept.filter((i, k) => k === 0 || i !== kept[k - 1])
}
