import type { FloatArray } from "../tensor/tensor.ts"
import { ShapeError } from "./errors.ts"

export interface GradCheckOptions {
  /** Central-difference step (default 1e-6, suited to float64). */
  readonly eps?: number
  /**
   * Errors are relative to `max(|analytic| + |numeric|, floor)` (default floor 1e-3), so
   * entries whose true gradient is ~0 are judged on absolute error instead of noise.
   */
  readonly floor?: number
  /** Check at most this many entries per input, evenly spread (default: all). */
  readonly maxPerInput?: number
}

export interface GradCheckEntry {
  readonly input: number
  readonly index: number
  readonly analytic: number
  readonly numeric: number
  readonly relError: number
}

export interface GradCheckResult {
  readonly checked: number
  readonly maxRelError: number
  readonly maxAbsError: number
  /** The entry with the largest relative error (null when nothing was checked). */
  readonly worst: GradCheckEntry | null
}

/**
 * Compares analytic gradients with central finite differences `(f(x+ε) − f(x−ε)) / 2ε`.
 *
 * `f` must compute its scalar from the current contents of `inputs`, which this function
 * perturbs in place one entry at a time and restores exactly afterwards. `analytic[i]` is the
 * gradient of f with respect to `inputs[i]`, computed beforehand at the unperturbed point.
 */
export const gradCheck = (
  f: () => number,
  inputs: ReadonlyArray<FloatArray>,
  analytic: ReadonlyArray<FloatArray>,
  options: GradCheckOptions = {}
): GradCheckResult => {
  const eps = options.eps ?? 1e-6
  const floor = options.floor ?? 1e-3
  let checked = 0
  let maxRelError = 0
  let maxAbsError = 0
  let worst: GradCheckEntry | null = null
  inputs.forEach((x, input) => {
    const g = analytic[input]
    if (g.length !== x.length) {
      throw new ShapeError({
        op: "gradCheck",
        operand: `analytic[${input}]`,
        expected: `${x.length} entries`,
        actual: `${g.length} entries`
      })
    }
    const limit = options.maxPerInput ?? x.length
    const stride = Math.max(1, Math.floor(x.length / limit))
    for (let index = 0; index < x.length; index += stride) {
      const original = x[index]
      x[index] = original + eps
      const plus = f()
      x[index] = original - eps
      const minus = f()
      x[index] = original
      const numeric = (plus - minus) / (2 * eps)
      const abs = Math.abs(g[index] - numeric)
      const relError = abs / Math.max(Math.abs(g[index]) + Math.abs(numeric), floor)
      checked++
      if (abs > maxAbsError) maxAbsError = abs
      if (worst === null || relError > maxRelError) {
        maxRelError = Math.max(maxRelError, relError)
        worst = { input, index, analytic: g[index], numeric, relError }
      }
    }
  })
  return { checked, maxRelError, maxAbsError, worst }
}
