/**
 * Resolved schedules: concrete, fully numeric, JSON-serializable specs (stored in checkpoint
 * manifests). Two forms:
 *
 * - `wsd`: a configuration resolved against a total `N`; evaluated by the formulas of docs/design.md ("Schedules").
 *   Constant and warm-up + decay are special cases (`decaySteps = 0`; `N − decaySteps = warmupSteps`).
 * - `spliced`: what a resume reconciliation produces: contiguous segments, each applying from its
 *   `from` step until the next one starts. The steps before the resume step keep the segments of
 *   the schedule that actually ran, so the spec describes the whole run, and repeated resumes just
 *   append. `configured` is the `wsd` spec of the configuration in force (what an unchanged
 *   configuration must reproduce to `keep` the schedule); `peakLr` is the level the schedule holds
 *   in its stable phase, the reference that floor factors apply to.
 *
 * Segment formulas use absolute steps `t`, so a segment can be cut at any step without changing
 * its values:
 * - `ramp`: the line through `(t0, a)` and `(t1, b)`, and exactly `b` from `t1` on. The original
 *   warm-up is the line through `(−1, 0)` and `(W − 1, η)`, which evaluates bit-for-bit to `η·(t+1)/W`.
 * - `hold`: `level`.
 * - `decay`: `p = min(1, (t − origin)/length)`, `floor + (start − floor)·f_shape(p)`, exactly `start`
 *   at `p = 0`; `floor` past the end (a zero `length` is the floor at once).
 */
import { Schema } from "effect"
import { NonNegativeFinite, NonNegativeInt, PositiveFinite, PositiveInt, UnitInterval } from "./primitives.ts"
import { DecayShape } from "./scheduleConfig.ts"

export const ResolvedWsd = Schema.TaggedStruct("wsd", {
  /** `N`, the run's total number of updates. */
  totalSteps: PositiveInt,
  /** `η`, from `optimizer.lr`. */
  peakLr: PositiveFinite,
  /** `W`. */
  warmupSteps: NonNegativeInt,
  /** `D`; the decay phase is `[N − D, N)`. Zero means no decay phase. */
  decaySteps: NonNegativeInt,
  decayShape: DecayShape,
  /** `m/η`; the floor is `m = η·minLrFactor`. */
  minLrFactor: UnitInterval
}).check(
  Schema.makeFilter((s) =>
    s.warmupSteps + s.decaySteps <= s.totalSteps
      ? undefined
      : `warmupSteps (${s.warmupSteps}) + decaySteps (${s.decaySteps}) exceed totalSteps (${s.totalSteps})`
  )
)
export type ResolvedWsd = typeof ResolvedWsd.Type

export const RampSegment = Schema.TaggedStruct("ramp", {
  from: NonNegativeInt,
  t0: Schema.Int,
  a: NonNegativeFinite,
  t1: Schema.Int,
  b: NonNegativeFinite
}).check(Schema.makeFilter((s) => s.t1 > s.t0 ? undefined : `ramp t1 (${s.t1}) must exceed t0 (${s.t0})`))
export type RampSegment = typeof RampSegment.Type

export const HoldSegment = Schema.TaggedStruct("hold", {
  from: NonNegativeInt,
  level: NonNegativeFinite
})
export type HoldSegment = typeof HoldSegment.Type

export const DecaySegment = Schema.TaggedStruct("decay", {
  from: NonNegativeInt,
  origin: NonNegativeInt,
  length: NonNegativeInt,
  start: NonNegativeFinite,
  floor: NonNegativeFinite,
  shape: DecayShape
}).check(
  Schema.makeFilter((s) => s.origin <= s.from ? undefined : `decay origin (${s.origin}) after its from (${s.from})`)
)
export type DecaySegment = typeof DecaySegment.Type

export const Segment = Schema.Union([RampSegment, HoldSegment, DecaySegment])
export type Segment = typeof Segment.Type

/** Structural rules that evaluation relies on; see `ResolvedSpliced`. */
export const checkSegments = (segments: ReadonlyArray<Segment>): string | undefined => {
  if (segments.length === 0) return "segments must not be empty"
  if (segments[0].from !== 0) return `the first segment must start at step 0, not ${segments[0].from}`
  for (let i = 1; i < segments.length; i++) {
    if (segments[i].from <= segments[i - 1].from) {
      return `segment ${i} starts at step ${segments[i].from}, not after segment ${i - 1} (${segments[i - 1].from})`
    }
  }
  // A trailing ramp would keep moving the LR after the schedule's end.
  if (segments[segments.length - 1]._tag === "ramp") return "the last segment must be a hold or a decay"
  return undefined
}

export const ResolvedSpliced = Schema.TaggedStruct("spliced", {
  configured: ResolvedWsd,
  peakLr: PositiveFinite,
  segments: Schema.Array(Segment)
}).check(Schema.makeFilter((s) => checkSegments(s.segments)))
export type ResolvedSpliced = typeof ResolvedSpliced.Type

export const ResolvedSchedule = Schema.Union([ResolvedWsd, ResolvedSpliced])
export type ResolvedSchedule = typeof ResolvedSchedule.Type
