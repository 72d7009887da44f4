/**
 * The schedule formulas of docs/design.md ("Schedules") as small pure functions. Evaluation order matches the written
 * formulas exactly, so `lrWsd` and the segment form of a `wsd` spec agree bit for bit.
 */
import type { DecayShape } from "../config/scheduleConfig.ts"
import type { ResolvedWsd, Segment } from "../config/scheduleSpec.ts"

/** `f_s(p)`: 1 at the start of the decay, 0 at its end. */
export const decayFactor = (shape: DecayShape, p: number): number => {
  switch (shape) {
    case "linear":
      return 1 - p
    case "sqrt":
      return 1 - Math.sqrt(p)
    case "cosine":
      return (1 + Math.cos(Math.PI * p)) / 2
  }
}

/** The floor `m = η·minLrFactor`. */
export const floorOf = (peakLr: number, minLrFactor: number): number => peakLr * minLrFactor

/** `N − D`, the first step of the decay phase. */
export const decayStartOf = (spec: ResolvedWsd): number => spec.totalSteps - spec.decaySteps

/** Decay progress, clamped to [0, 1] so nothing decays past its end or before its origin. */
const decayProgress = (t: number, origin: number, length: number): number =>
  length === 0 ? 1 : Math.min(1, Math.max(0, (t - origin) / length))

/**
 * The decay `floor + (start − floor)·f_s(p)`. At `p = 0` it is `start` itself, which the formula
 * equals in exact arithmetic but can miss by one rounding; returning it exactly lets a decay join
 * the level before it without a step in either direction.
 */
export const decayValue = (start: number, floor: number, shape: DecayShape, p: number): number =>
  p === 0 ? start : floor + (start - floor) * decayFactor(shape, p)

/**
 * `lr(t)` of a resolved configuration:
 * `t < W`: `η·(t+1)/W`; `W ≤ t < N−D`: `η`; `N−D ≤ t`: `m + (η−m)·f_s(min(1, (t−(N−D))/D))`.
 * The last warm-up step (`t = W−1`) gives `η` exactly, as the decay start gives `η` exactly (see
 * `decayValue`): the values the formulas take in exact arithmetic, without a rounding step between
 * phases. `D = 0` means there is no decay phase (the LR stays at `η`); this avoids `0/0` and is
 * what `constant` resolves to.
 */
export const lrWsd = (spec: ResolvedWsd, t: number): number => {
  const { peakLr, warmupSteps, decaySteps } = spec
  if (t < warmupSteps) return t + 1 >= warmupSteps ? peakLr : peakLr * (t + 1) / warmupSteps
  if (decaySteps === 0 || t < spec.totalSteps - decaySteps) return peakLr
  const m = floorOf(peakLr, spec.minLrFactor)
  return decayValue(peakLr, m, spec.decayShape, decayProgress(t, spec.totalSteps - decaySteps, decaySteps))
}

export const lrSegment = (segment: Segment, t: number): number => {
  switch (segment._tag) {
    case "ramp":
      // b from t1 on: the ramp reaches its level exactly, whatever the rounding of the line.
      return t >= segment.t1
        ? segment.b
        : segment.a + (segment.b - segment.a) * (t - segment.t0) / (segment.t1 - segment.t0)
    case "hold":
      return segment.level
    case "decay":
      return decayValue(segment.start, segment.floor, segment.shape, decayProgress(t, segment.origin, segment.length))
  }
}

/** Index of the segment in force at `t`: the last one with `from ≤ t` (segments start at 0). */
export const segmentIndexAt = (segments: ReadonlyArray<Segment>, t: number): number => {
  let lo = 0
  let hi = segments.length - 1
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1
    if (segments[mid].from <= t) lo = mid
    else hi = mid - 1
  }
  return lo
}

export const lrSegments = (segments: ReadonlyArray<Segment>, t: number): number =>
  lrSegment(segments[segmentIndexAt(segments, t)], t)

/** The segment form of a `wsd` spec; evaluates identically to `lrWsd`. */
export const wsdSegments = (spec: ResolvedWsd): Array<Segment> => {
  const { peakLr, warmupSteps: W, decaySteps: D } = spec
  const decayStart = decayStartOf(spec)
  const segments: Array<Segment> = []
  if (W > 0) segments.push({ _tag: "ramp", from: 0, t0: -1, a: 0, t1: W - 1, b: peakLr })
  if (D === 0 || decayStart > W) segments.push({ _tag: "hold", from: W, level: peakLr })
  if (D > 0) {
    const floor = floorOf(peakLr, spec.minLrFactor)
    segments.push({
      _tag: "decay",
      from: decayStart,
      origin: decayStart,
      length: D,
      start: peakLr,
      floor,
      shape: spec.decayShape
    })
  }
  return segments
}

/**
 * The segments of `before` up to step `at`, followed by those of `after` from `at` on (the
 * segment of `after` in force at `at` is cut to start there).
 */
export const spliceSegments = (
  before: ReadonlyArray<Segment>,
  at: number,
  after: ReadonlyArray<Segment>
): Array<Segment> => {
  const head = before.filter((s) => s.from < at)
  const i = segmentIndexAt(after, at)
  return [...head, { ...after[i], from: at }, ...after.slice(i + 1).filter((s) => s.from > at)]
}
