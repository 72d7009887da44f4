/**
 * Schedule reconciliation at resume (docs/design.md, "Resume policies").
 *
 * Given the schedule `S` stored with the checkpoint, the schedule `S'` resolved from the new
 * configuration against the new total `N'`, and the resume step `k`, each action yields the
 * schedule to run from `k` on, plus the facts a resume plan shows: `S(k)`, the LR the run will use
 * next, and their ratio. Except for `restart` (which starts a fresh schedule at step 0), the result
 * equals `S` before `k`, so a stored schedule always describes the whole run.
 */
import { Result, Schema } from "effect"
import type { DecayShape } from "../config/scheduleConfig.ts"
import {
  configuredOf,
  decayStartOf,
  floorOf,
  lr,
  lrSegment,
  peakLrOf,
  ResolvedSchedule,
  type ResolvedSpliced,
  type ResolvedWsd,
  type Segment,
  segmentIndexAt,
  segmentsOf,
  spliceSegments,
  wsdSegments
} from "../optim/schedule.ts"

export const ScheduleAction = Schema.Literals(["keep", "extend", "rewarm", "rebuild", "restart"])
export type ScheduleAction = typeof ScheduleAction.Type

export interface ReconcileOptions {
  /** Largest accepted `|S'(k)/S(k) − 1|` for `rebuild`. */
  readonly tolerance: number
  /** Accept a `rebuild` jump beyond the tolerance (it is still reported). */
  readonly allowDiscontinuity: boolean
}

/** A relative LR jump of 1% at the resume step is the default limit for `rebuild`. */
export const DEFAULT_LR_JUMP_TOLERANCE = 0.01

export const ScheduleReconciliation = Schema.Struct({
  action: ScheduleAction,
  resumeStep: Schema.Int,
  /** The schedule to run with; evaluated at the restored step (at 0 after `restart`). */
  schedule: ResolvedSchedule,
  /** `S(k)`: the LR the stored schedule gives at the resume step. */
  lrBefore: Schema.Number,
  /** The LR of the next update: `schedule(k)`, or `schedule(0)` after `restart`. */
  lrAfter: Schema.Number,
  /** `lrAfter / lrBefore` (1 when both are 0, `Infinity` when only `lrBefore` is). */
  jumpRatio: Schema.Number,
  /** Plain-language consequences worth a warning in the plan. */
  notes: Schema.Array(Schema.String)
})
export type ScheduleReconciliation = typeof ScheduleReconciliation.Type

export class ResumeStepBeyondTotal extends Schema.TaggedError<ResumeStepBeyondTotal>()("ResumeStepBeyondTotal", {
  resumeStep: Schema.Int,
  totalSteps: Schema.Int
}) {
  override get message(): string {
    return `resume step ${this.resumeStep} is not before the new total steps ${this.totalSteps}; nothing is left to run`
  }
}

const DifferenceValue = Schema.Union([Schema.Number, Schema.String])

export const ScheduleDifference = Schema.Struct({
  field: Schema.String,
  old: DifferenceValue,
  new: DifferenceValue
})
export type ScheduleDifference = typeof ScheduleDifference.Type

export class ScheduleKeepMismatch extends Schema.TaggedError<ScheduleKeepMismatch>()("ScheduleKeepMismatch", {
  resumeStep: Schema.Int,
  differences: Schema.Array(ScheduleDifference)
}) {
  override get message(): string {
    const changes = this.differences.map((d) => `${d.field} ${d.old} → ${d.new}`).join(", ")
    return `schedule keep at step ${this.resumeStep}: the configured schedule changed (${changes})`
  }
}

export class ScheduleDiscontinuity extends Schema.TaggedError<ScheduleDiscontinuity>()("ScheduleDiscontinuity", {
  resumeStep: Schema.Int,
  lrBefore: Schema.Number,
  lrAfter: Schema.Number,
  jumpRatio: Schema.Number,
  tolerance: Schema.Number
}) {
  override get message(): string {
    const show = (x: number) => (Number.isFinite(x) ? Number(x.toPrecision(6)).toString() : String(x))
    return `schedule rebuild at step ${this.resumeStep} moves the LR from ${show(this.lrBefore)} to ${
      show(this.lrAfter)
    } ` +
      `(×${show(this.jumpRatio)}, tolerance ${this.tolerance}); use extend or rewarm, or allow the discontinuity`
  }
}

export class RewarmDoesNotFit extends Schema.TaggedError<RewarmDoesNotFit>()("RewarmDoesNotFit", {
  resumeStep: Schema.Int,
  warmupSteps: Schema.Int,
  totalSteps: Schema.Int,
  reason: Schema.String
}) {
  override get message(): string {
    return `schedule rewarm at step ${this.resumeStep} with schedule.warmupSteps = ${this.warmupSteps}: ${this.reason}`
  }
}

export class InvalidReconcileInput extends Schema.TaggedError<InvalidReconcileInput>()("InvalidReconcileInput", {
  field: Schema.String,
  value: Schema.Unknown,
  reason: Schema.String
}) {
  override get message(): string {
    return `${this.field} = ${String(this.value)}: ${this.reason}`
  }
}

export type ScheduleReconcileError =
  | ResumeStepBeyondTotal
  | ScheduleKeepMismatch
  | ScheduleDiscontinuity
  | RewarmDoesNotFit
  | InvalidReconcileInput

const WSD_FIELDS = ["totalSteps", "peakLr", "warmupSteps", "decaySteps", "decayShape", "minLrFactor"] as const

/** The fields in which two resolved configurations differ, with both values. */
export const diffResolved = (old: ResolvedWsd, next: ResolvedWsd): Array<ScheduleDifference> =>
  WSD_FIELDS.filter((field) => old[field] !== next[field]).map((field) => ({
    field,
    old: old[field],
    new: next[field]
  }))

export const jumpRatioOf = (before: number, after: number): number =>
  before === 0 ? (after === 0 ? 1 : Infinity) : after / before

/** A decay from `start` to `floor`; a hold at `start` when the two coincide (nothing to decay). */
const decayOrHold = (
  from: number,
  origin: number,
  length: number,
  start: number,
  floor: number,
  shape: DecayShape
): Segment =>
  floor === start ? { _tag: "hold", from, level: start } : { _tag: "decay", from, origin, length, start, floor, shape }

/** Drops a hold that repeats the level of the hold before it. */
const mergeHolds = (segments: ReadonlyArray<Segment>): Array<Segment> =>
  segments.filter((s, i) => {
    const prev = segments[i - 1]
    return !(i > 0 && s._tag === "hold" && prev._tag === "hold" && prev.level === s.level)
  })

const spliced = (
  old: ResolvedSchedule,
  k: number,
  tail: ReadonlyArray<Segment>,
  configured: ResolvedWsd,
  peakLr: number
): ResolvedSpliced => ({
  _tag: "spliced",
  configured,
  peakLr,
  segments: mergeHolds(spliceSegments(segmentsOf(old), k, tail))
})

/** A schedule to run with, and the consequences worth showing in a plan. */
export interface Reconciled {
  readonly schedule: ResolvedSchedule
  readonly notes: ReadonlyArray<string>
}

/**
 * `extend`: the run goes on at the level it has at `k`, and the decay moves to end at `N'`
 * (decay length and shape of `next`; floor = `next.minLrFactor` × the stable level of `old`, never
 * above the LR it decays from).
 * - `k` in the stable phase: hold `S(k)`, then decay over `[N'−D', N')`.
 * - `k` in a warm-up: the same ramp continues to its level, then as above; if the new decay starts
 *   (or, without a decay, the new run ends) before the ramp ends, the ramp is cut there and the
 *   decay starts (or the LR stays) at the level reached.
 * - `k` in a decay (of `old`, or at/after `N'−D'`): decay from `S(k)` to the floor over `[k, N')`.
 * An unchanged configuration keeps `old` as it is. `lr(result, k) === S(k)` in every case.
 */
export const extendSchedule = (old: ResolvedSchedule, next: ResolvedWsd, k: number): Reconciled => {
  if (diffResolved(configuredOf(old), next).length === 0) {
    return { schedule: old, notes: ["configuration unchanged: the schedule is kept as it was"] }
  }
  const notes: Array<string> = []
  const level = peakLrOf(old)
  if (next.peakLr !== level) {
    notes.push(
      `optimizer.lr ${next.peakLr} is not applied: extend continues at the level ${level}; rewarm moves to a new peak`
    )
  }
  const at = lr(old, k)
  const newTotal = next.totalSteps
  const newDecayStart = decayStartOf(next)
  const hasDecay = next.decaySteps > 0
  const floorBelow = (start: number): number => {
    const floor = floorOf(level, next.minLrFactor)
    if (floor > start) {
      notes.push(`the new floor ${floor} is above the LR ${start} it would decay from; the LR holds there`)
    }
    return Math.min(floor, start)
  }
  const segments = segmentsOf(old)
  const index = segmentIndexAt(segments, k)
  const current = segments[index]

  let tail: Array<Segment>
  if (current._tag === "decay" || (hasDecay && k >= newDecayStart)) {
    notes.push(`step ${k} is in the decay phase: the LR decays from ${at} over steps [${k}, ${newTotal})`)
    tail = [decayOrHold(k, k, newTotal - k, at, floorBelow(at), next.decayShape)]
  } else if (current._tag === "ramp") {
    // A ramp is never the last segment, so its end is where the following segment starts. Its level
    // there is `b`, unless an earlier extend cut it short.
    const rampEnd = segments[index + 1].from
    const rampLevel = lrSegment(current, rampEnd)
    // The ramp must end by the new decay start, or by the new end when there is no decay.
    const cut = hasDecay ? newDecayStart : newTotal
    tail = [{ ...current, from: k }]
    if (rampEnd <= cut) {
      if (rampEnd < cut || !hasDecay) tail.push({ _tag: "hold", from: rampEnd, level: rampLevel })
      if (hasDecay) {
        tail.push(
          decayOrHold(newDecayStart, newDecayStart, next.decaySteps, rampLevel, floorBelow(rampLevel), next.decayShape)
        )
      }
    } else {
      const reached = lrSegment(current, cut)
      if (hasDecay) {
        notes.push(`the warm-up in progress is cut at the new decay start ${cut}, at the LR ${reached}`)
        tail.push(decayOrHold(cut, cut, next.decaySteps, reached, floorBelow(reached), next.decayShape))
      } else {
        notes.push(`the warm-up in progress is cut at the new end ${cut}, at the LR ${reached}`)
        tail.push({ _tag: "hold", from: cut, level: reached })
      }
    }
  } else {
    tail = [{ _tag: "hold", from: k, level: at }]
    if (hasDecay) {
      tail.push(decayOrHold(newDecayStart, newDecayStart, next.decaySteps, at, floorBelow(at), next.decayShape))
    }
  }
  return { schedule: spliced(old, k, tail, next, level), notes }
}

/**
 * `rewarm`: from `S(k)`, a linear ramp reaching the new peak at `k + W'` (`lr(k) = S(k)`,
 * `lr(k + W') = η'`), then the new stable phase and the decay ending at `N'`. When the ramp ends
 * after the configured decay start `N' − D'` (always so for `warmup-decay`, whose decay follows its
 * warm-up), the decay follows the ramp at once and is shortened to end at `N'`. Needs `W' ≥ 1`, and
 * the ramp to end before `N'` (by `N'` when there is no decay).
 */
export const rewarmSchedule = (
  old: ResolvedSchedule,
  next: ResolvedWsd,
  k: number
): Result.Result<Reconciled, RewarmDoesNotFit> => {
  const W = next.warmupSteps
  const newTotal = next.totalSteps
  const hasDecay = next.decaySteps > 0
  const rampEnd = k + W
  const decayStart = Math.max(decayStartOf(next), rampEnd)
  const reject = (reason: string) =>
    Result.fail(new RewarmDoesNotFit({ resumeStep: k, warmupSteps: W, totalSteps: newTotal, reason }))
  if (W === 0) return reject("rewarm ramps over the new warm-up; set schedule.warmupSteps ≥ 1 (or use rebuild)")
  if (hasDecay ? rampEnd >= newTotal : rampEnd > newTotal) {
    return reject(
      `the ramp would end at step ${rampEnd}, leaving no step ${
        hasDecay ? "to decay" : "at the peak"
      } before ${newTotal}`
    )
  }
  const notes: Array<string> = []
  const at = lr(old, k)
  const peak = next.peakLr
  const tail: Array<Segment> = [{ _tag: "ramp", from: k, t0: k, a: at, t1: rampEnd, b: peak }]
  if (!hasDecay || rampEnd < decayStart) tail.push({ _tag: "hold", from: rampEnd, level: peak })
  if (hasDecay) {
    const length = newTotal - decayStart
    if (length < next.decaySteps) {
      notes.push(
        `the decay follows the ramp at step ${decayStart} and lasts ${length} steps instead of ${next.decaySteps}`
      )
    }
    tail.push(decayOrHold(decayStart, decayStart, length, peak, floorOf(peak, next.minLrFactor), next.decayShape))
  }
  return Result.succeed({ schedule: spliced(old, k, tail, next, peak), notes })
}

/** `rebuild`: `next` as configured from `k` on (torchtitan's behaviour); `old` before `k`. */
export const rebuildSchedule = (old: ResolvedSchedule, next: ResolvedWsd, k: number): Reconciled => {
  if (old._tag === "wsd" && diffResolved(old, next).length === 0) return { schedule: old, notes: [] }
  return { schedule: spliced(old, k, wsdSegments(next), next, next.peakLr), notes: [] }
}

/** `keep`: the configured schedule must be unchanged; the stored schedule continues. */
export const keepSchedule = (
  old: ResolvedSchedule,
  next: ResolvedWsd,
  k: number
): Result.Result<Reconciled, ScheduleKeepMismatch> => {
  const differences = diffResolved(configuredOf(old), next)
  return differences.length === 0
    ? Result.succeed({ schedule: old, notes: [] })
    : Result.fail(new ScheduleKeepMismatch({ resumeStep: k, differences }))
}

/**
 * Reconciles the stored schedule `old` with `next` (the new configuration resolved against the
 * new total `N'`) at the resume step `k`. Rejects `k ≥ N'` (except for `restart`, which resets the
 * step), a changed configuration under `keep`, a rewarm that does not fit, and a `rebuild` whose
 * LR jump at `k` exceeds the tolerance unless the discontinuity is allowed.
 */
export const reconcileSchedule = (
  action: ScheduleAction,
  old: ResolvedSchedule,
  next: ResolvedWsd,
  k: number,
  options: ReconcileOptions
): Result.Result<ScheduleReconciliation, ScheduleReconcileError> => {
  if (!Number.isInteger(k) || k < 0) {
    return Result.fail(
      new InvalidReconcileInput({ field: "resumeStep", value: k, reason: "must be a non-negative integer" })
    )
  }
  if (!(options.tolerance >= 0) || !Number.isFinite(options.tolerance)) {
    return Result.fail(
      new InvalidReconcileInput({ field: "tolerance", value: options.tolerance, reason: "must be a finite number ≥ 0" })
    )
  }
  if (action !== "restart" && k >= next.totalSteps) {
    return Result.fail(new ResumeStepBeyondTotal({ resumeStep: k, totalSteps: next.totalSteps }))
  }
  const lrBefore = lr(old, k)
  const finish = (reconciled: Reconciled, lrAfter: number): ScheduleReconciliation => ({
    action,
    resumeStep: k,
    schedule: reconciled.schedule,
    lrBefore,
    lrAfter,
    jumpRatio: jumpRatioOf(lrBefore, lrAfter),
    notes: reconciled.notes
  })
  switch (action) {
    case "keep":
      return Result.map(keepSchedule(old, next, k), (r) => finish(r, lr(r.schedule, k)))
    case "extend": {
      const r = extendSchedule(old, next, k)
      return Result.succeed(finish(r, lr(r.schedule, k)))
    }
    case "rewarm":
      return Result.map(rewarmSchedule(old, next, k), (r) => finish(r, lr(r.schedule, k)))
    case "rebuild": {
      const r = rebuildSchedule(old, next, k)
      const lrAfter = lr(r.schedule, k)
      const jumpRatio = jumpRatioOf(lrBefore, lrAfter)
      if (Math.abs(jumpRatio - 1) > options.tolerance && !options.allowDiscontinuity) {
        return Result.fail(
          new ScheduleDiscontinuity({ resumeStep: k, lrBefore, lrAfter, jumpRatio, tolerance: options.tolerance })
        )
      }
      return Result.succeed(finish(r, lrAfter))
    }
    case "restart":
      return Result.succeed(finish({ schedule: next, notes: ["the schedule restarts at step 0"] }, lr(next, 0)))
  }
}
