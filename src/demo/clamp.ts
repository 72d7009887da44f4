/**
 * What happens when training runs past the total a schedule was resolved for. torchtitan's
 * original warm-up + linear decay computed the decay progress without a bound, so past the total
 * the LR went below the floor and then negative; continuum clamps the progress at 1
 * (docs/design.md, "Schedules") and holds the floor.
 */
import { decayStartOf, floorOf, lr, type ResolvedWsd } from "../optim/schedule.ts"
import { decayValue } from "../optim/scheduleMath.ts"

/** The same formula with the progress `p` left unclamped (the torchtitan failure); `lr` within the run. */
export const unclampedLr = (spec: ResolvedWsd, t: number): number => {
  if (spec.decaySteps === 0 || t < decayStartOf(spec)) return lr(spec, t)
  const p = (t - decayStartOf(spec)) / spec.decaySteps
  return decayValue(spec.peakLr, floorOf(spec.peakLr, spec.minLrFactor), spec.decayShape, p)
}

export interface ClampRow {
  /** Step index (update `t + 1` uses it). */
  readonly t: number
  /** continuum's `lr(S, t)`. */
  readonly clamped: number
  /** The unclamped formula's value. */
  readonly unclamped: number
}

/**
 * The schedule `spec` (resolved for `N`) evaluated at the last step of its run and at steps past
 * it up to `until − 1`: the end of the original run, its first step past it, halfway, the last.
 */
export const clampRows = (spec: ResolvedWsd, until: number): Array<ClampRow> => {
  const n = spec.totalSteps
  const ts = [...new Set([n - 1, n, Math.floor((n + until) / 2), until - 1])].filter((t) => t >= 0 && t < until)
  return ts.map((t) => ({ t, clamped: lr(spec, t), unclamped: unclampedLr(spec, t) }))
}
