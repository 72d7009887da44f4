import { assert, describe, it } from "@effect/vitest"
import { Effect, Result, Schema } from "effect"
import fc from "fast-check"
import {
  configuredOf,
  lr,
  peakLrOf,
  referenceScheduleConfig,
  ResolvedSchedule,
  type ResolvedWsd,
  resolveSchedule,
  type ScheduleConfig,
  totalStepsOf
} from "../../src/optim/schedule.ts"
import {
  DEFAULT_LR_JUMP_TOLERANCE,
  InvalidReconcileInput,
  reconcileSchedule,
  ResumeStepBeyondTotal,
  RewarmDoesNotFit,
  type ScheduleAction,
  ScheduleDiscontinuity,
  ScheduleKeepMismatch,
  type ScheduleReconcileError,
  type ScheduleReconciliation
} from "../../src/resume/reconcile.ts"

const strict = { tolerance: DEFAULT_LR_JUMP_TOLERANCE, allowDiscontinuity: false }
const lenient = { tolerance: DEFAULT_LR_JUMP_TOLERANCE, allowDiscontinuity: true }

const resolve = (config: ScheduleConfig, peak: number, total: number): ResolvedWsd =>
  resolveSchedule(config, peak, total)

const succeed = (result: Result.Result<ScheduleReconciliation, ScheduleReconcileError>): ScheduleReconciliation => {
  if (Result.isFailure(result)) throw new Error(`expected success, got ${result.failure.message}`)
  return result.success
}

const failure = (result: Result.Result<ScheduleReconciliation, ScheduleReconcileError>): ScheduleReconcileError => {
  if (Result.isSuccess(result)) throw new Error("expected a rejection")
  return result.failure
}

const roundTrip = (schedule: ResolvedSchedule): ResolvedSchedule =>
  Schema.decodeUnknownSync(ResolvedSchedule)(JSON.parse(JSON.stringify(schedule)))

// ---------------------------------------------------------------------------------------------
// Generators

const shapeArb = fc.constantFrom("linear" as const, "sqrt" as const, "cosine" as const)

const wsdArb = (minTotal: number, maxTotal: number): fc.Arbitrary<ResolvedWsd> =>
  fc
    .integer({ min: minTotal, max: maxTotal })
    .chain((N) =>
      fc.record({
        N: fc.constant(N),
        W: fc.oneof(fc.integer({ min: 0, max: Math.min(N, 40) }), fc.integer({ min: 0, max: N })),
        split: fc.double({ min: 0, max: 1, noNaN: true }),
        kind: fc.constantFrom("wsd" as const, "wsd" as const, "constant" as const, "warmup-decay" as const),
        shape: shapeArb,
        factor: fc.oneof(fc.constant(0), fc.constant(0.1), fc.double({ min: 0, max: 1, noNaN: true })),
        peak: fc.oneof(fc.constant(3e-3), fc.double({ min: 1e-6, max: 1, noNaN: true }))
      })
    )
    .map(({ N, W, split, kind, shape, factor, peak }) => {
      const base = { warmupSteps: W, decayShape: shape, minLrFactor: factor }
      const config: ScheduleConfig = kind === "wsd"
        ? { ...base, kind, decaySteps: Math.floor(split * (N - W)) }
        : { ...base, kind }
      return resolve(config, peak, N)
    })

/** A stored schedule: a resolved configuration, or one spliced by up to two earlier resumes. */
const storedArb: fc.Arbitrary<ResolvedSchedule> = fc
  .record({
    base: wsdArb(1, 400),
    earlier: fc.array(
      fc.record({
        action: fc.constantFrom("extend" as const, "extend" as const, "rewarm" as const, "rebuild" as const),
        next: wsdArb(2, 600),
        at: fc.double({ min: 0, max: 1, noNaN: true })
      }),
      { maxLength: 2 }
    )
  })
  .map(({ base, earlier }) => {
    let stored: ResolvedSchedule = base
    let from = 0
    for (const { action, next, at } of earlier) {
      const total = totalStepsOf(stored)
      // Later resumes happen at later steps, as they do in a run.
      const k = Math.min(total, next.totalSteps - 1, from + Math.floor(at * (total + 1 - from)))
      if (k < from) break
      const result = reconcileSchedule(action, stored, next, k, lenient)
      if (Result.isSuccess(result)) {
        stored = result.success.schedule
        from = k
      }
    }
    return stored
  })

interface Scenario<Old extends ResolvedSchedule = ResolvedSchedule> {
  readonly old: Old
  readonly next: ResolvedWsd
  readonly k: number
}

/** A stored schedule, a new configuration (sometimes the same one) and a resume step before `N'`. */
const scenarioArb = <Old extends ResolvedSchedule>(stored: fc.Arbitrary<Old>): fc.Arbitrary<Scenario<Old>> =>
  fc
    .record({
      old: stored,
      fresh: wsdArb(1, 900),
      same: fc.boolean(),
      at: fc.double({ min: 0, max: 1, noNaN: true })
    })
    .map(({ old, fresh, same, at }) => {
      const next = same ? configuredOf(old) : fresh
      const k = Math.min(totalStepsOf(old), next.totalSteps - 1, Math.floor(at * (totalStepsOf(old) + 1)))
      return { old, next, k }
    })

const plainScenarios = scenarioArb(wsdArb(1, 400))
const anyScenarios = scenarioArb(storedArb)

// ---------------------------------------------------------------------------------------------
// Laws shared by the continuous actions

const horizon = (s: Scenario): number => s.next.totalSteps + 3

const assertHistoryKept = (s: Scenario, schedule: ResolvedSchedule) => {
  for (let t = 0; t < s.k; t++) assert.strictEqual(lr(schedule, t), lr(s.old, t), `history t=${t}`)
}

const assertSane = (s: Scenario, schedule: ResolvedSchedule) => {
  const N = s.next.totalSteps
  for (let t = 0; t <= horizon(s); t++) {
    const v = lr(schedule, t)
    assert.isTrue(Number.isFinite(v) && v >= 0, `t=${t} lr=${v}`)
  }
  for (const beyond of [0, 1, 17, 10 * N + 3]) assert.strictEqual(lr(schedule, N + beyond), lr(schedule, N))
}

/** From `k` on the LR may rise (a ramp) and then only fall: it never rises again after falling. */
const assertUnimodalFrom = (s: Scenario, schedule: ResolvedSchedule) => {
  let fell = false
  for (let t = s.k; t < horizon(s); t++) {
    const a = lr(schedule, t)
    const b = lr(schedule, t + 1)
    if (b < a) fell = true
    if (b > a) assert.isFalse(fell, `rises again at t=${t}`)
  }
}

const steepest = (shape: "linear" | "sqrt" | "cosine", length: number): number =>
  length <= 0 ? 0 : shape === "linear" ? 1 / length : shape === "sqrt" ? Math.sqrt(1 / length) : Math.PI / (2 * length)

/** Largest per-step change the pieces after `k` allow: the ramps' slopes and the new decays' steepest step. */
const boundAfterResume = (s: Scenario<ResolvedWsd>): number => {
  const { old, next, k } = s
  const level = Math.max(old.peakLr, next.peakLr, lr(old, k))
  const N = next.totalSteps
  const newDecayStart = N - next.decaySteps
  const decayLengths = [next.decaySteps, N - k, N - Math.max(newDecayStart, k + next.warmupSteps)]
  const slopes = [
    old.warmupSteps > 0 ? 1 / old.warmupSteps : 0,
    next.warmupSteps > 0 ? 1 / next.warmupSteps : 0,
    ...decayLengths.map((length) => steepest(next.decayShape, length))
  ]
  return level * Math.max(...slopes) * (1 + 1e-9) + level * 1e-12
}

const assertBoundedSteps = (s: Scenario<ResolvedWsd>, schedule: ResolvedSchedule) => {
  const bound = boundAfterResume(s)
  for (let t = s.k; t < horizon(s); t++) {
    assert.isAtMost(Math.abs(lr(schedule, t + 1) - lr(schedule, t)), bound, `t=${t}`)
  }
}

const isPlain = (s: Scenario): s is Scenario<ResolvedWsd> => s.old._tag === "wsd"

// ---------------------------------------------------------------------------------------------

describe("reconcileSchedule laws", () => {
  it("extend: continuous at k, history kept, finite, non-negative, unimodal, constant after N'", () => {
    fc.assert(
      fc.property(anyScenarios, (s) => {
        const r = succeed(reconcileSchedule("extend", s.old, s.next, s.k, strict))
        assert.strictEqual(lr(r.schedule, s.k), lr(s.old, s.k))
        assert.strictEqual(r.lrBefore, lr(s.old, s.k))
        assert.strictEqual(r.lrAfter, r.lrBefore)
        assert.strictEqual(r.jumpRatio, 1)
        assertHistoryKept(s, r.schedule)
        assertSane(s, r.schedule)
        // An unchanged configuration returns the stored schedule, whose earlier splices may rise.
        if (r.schedule !== s.old) assertUnimodalFrom(s, r.schedule)
        assert.deepStrictEqual(roundTrip(r.schedule), r.schedule)
        if (isPlain(s)) assertBoundedSteps(s, r.schedule)
      }),
      { numRuns: 250 }
    )
  })

  it("extend ends at the new floor (new factor × the continuing level), never below it, never above S(k)", () => {
    fc.assert(
      fc.property(plainScenarios, (s) => {
        const r = succeed(reconcileSchedule("extend", s.old, s.next, s.k, strict))
        if (r.schedule === s.old) return
        const N = s.next.totalSteps
        const atK = lr(s.old, s.k)
        const floor = s.old.peakLr * s.next.minLrFactor
        const atEnd = lr(r.schedule, N)
        if (s.k >= s.old.warmupSteps) assert.isAtMost(atEnd, atK)
        assert.isAtLeast(atEnd, Math.min(floor, atK) * (1 - 1e-12))
        const oldDecayStart = s.old.totalSteps - s.old.decaySteps
        const stable = s.k >= s.old.warmupSteps && (s.old.decaySteps === 0 || s.k < oldDecayStart)
        if (stable && s.next.decaySteps > 0 && s.k < N - s.next.decaySteps) assert.strictEqual(atEnd, floor)
        if (stable && s.next.decaySteps === 0) assert.strictEqual(atEnd, s.old.peakLr)
        assert.strictEqual(peakLrOf(r.schedule), s.old.peakLr)
      }),
      { numRuns: 200 }
    )
  })

  it("extend with an unchanged configuration keeps the stored schedule as it is", () => {
    fc.assert(
      fc.property(storedArb, fc.double({ min: 0, max: 1, noNaN: true }), (old, at) => {
        const next = configuredOf(old)
        const k = Math.min(next.totalSteps - 1, Math.floor(at * next.totalSteps))
        const r = succeed(reconcileSchedule("extend", old, next, k, strict))
        assert.strictEqual(r.schedule, old)
      }),
      { numRuns: 100 }
    )
  })

  it("rewarm: S(k) at k, the new peak at k + W', then never rising again; or a typed rejection", () => {
    fc.assert(
      fc.property(anyScenarios, (s) => {
        const result = reconcileSchedule("rewarm", s.old, s.next, s.k, strict)
        const W = s.next.warmupSteps
        const N = s.next.totalSteps
        const fits = W >= 1 && (s.next.decaySteps > 0 ? s.k + W < N : s.k + W <= N)
        assert.strictEqual(Result.isSuccess(result), fits)
        if (!fits) {
          const error = failure(result)
          assert.instanceOf(error, RewarmDoesNotFit)
          assert.strictEqual((error as RewarmDoesNotFit).warmupSteps, W)
          return
        }
        const r = succeed(result)
        assert.strictEqual(lr(r.schedule, s.k), lr(s.old, s.k))
        assert.strictEqual(r.lrAfter, r.lrBefore)
        assert.strictEqual(lr(r.schedule, s.k + W), s.next.peakLr)
        assertHistoryKept(s, r.schedule)
        assertSane(s, r.schedule)
        assertUnimodalFrom(s, r.schedule)
        if (s.next.decaySteps > 0) {
          assert.strictEqual(lr(r.schedule, N), s.next.peakLr * s.next.minLrFactor)
        }
        assert.deepStrictEqual(roundTrip(r.schedule), r.schedule)
        if (isPlain(s)) assertBoundedSteps(s, r.schedule)
      }),
      { numRuns: 250 }
    )
  })

  it("keep: accepts only an unchanged configuration and lists exactly the changed fields", () => {
    const fields = ["totalSteps", "peakLr", "warmupSteps", "decaySteps", "decayShape", "minLrFactor"] as const
    const perturbed = fc.record({
      old: storedArb,
      change: fc.subarray([...fields]),
      at: fc.double({ min: 0, max: 1, noNaN: true })
    })
    fc.assert(
      fc.property(perturbed, ({ old, change, at }) => {
        const base = configuredOf(old)
        const next = { ...base }
        for (const field of change) {
          if (field === "totalSteps") next.totalSteps = base.totalSteps + 7
          if (field === "peakLr") next.peakLr = base.peakLr * 1.5
          if (field === "warmupSteps") next.warmupSteps = base.warmupSteps > 0 ? base.warmupSteps - 1 : 1
          if (field === "decaySteps") next.decaySteps = base.decaySteps > 0 ? base.decaySteps - 1 : 1
          if (field === "decayShape") next.decayShape = base.decayShape === "cosine" ? "linear" : "cosine"
          if (field === "minLrFactor") next.minLrFactor = base.minLrFactor === 0.5 ? 0.25 : 0.5
        }
        next.totalSteps = Math.max(next.totalSteps, next.warmupSteps + next.decaySteps)
        const changed = fields.filter((f) => next[f] !== base[f])
        const k = Math.min(next.totalSteps - 1, Math.floor(at * base.totalSteps))
        const result = reconcileSchedule("keep", old, next, k, strict)
        if (changed.length === 0) {
          const r = succeed(result)
          assert.strictEqual(r.schedule, old)
          assert.strictEqual(r.jumpRatio, 1)
          return
        }
        const error = failure(result)
        assert.instanceOf(error, ScheduleKeepMismatch)
        const mismatch = error as ScheduleKeepMismatch
        assert.deepStrictEqual(
          mismatch.differences,
          changed.map((field) => ({ field, old: base[field], new: next[field] }))
        )
        for (const field of changed) assert.include(mismatch.message, field)
      }),
      { numRuns: 250 }
    )
  })

  it("rebuild: reports the exact jump, rejects it beyond the tolerance unless allowed, runs S' from k", () => {
    fc.assert(
      fc.property(anyScenarios, fc.double({ min: 0, max: 0.5, noNaN: true }), (s, tolerance) => {
        const before = lr(s.old, s.k)
        const after = lr(s.next, s.k)
        const ratio = before === 0 ? (after === 0 ? 1 : Infinity) : after / before
        const allowed = reconcileSchedule("rebuild", s.old, s.next, s.k, { tolerance, allowDiscontinuity: true })
        const r = succeed(allowed)
        assert.strictEqual(r.lrBefore, before)
        assert.strictEqual(r.lrAfter, after)
        assert.strictEqual(r.jumpRatio, ratio)
        assertHistoryKept(s, r.schedule)
        for (let t = s.k; t <= horizon(s); t++) assert.strictEqual(lr(r.schedule, t), lr(s.next, t), `t=${t}`)
        assert.deepStrictEqual(roundTrip(r.schedule), r.schedule)

        const checked = reconcileSchedule("rebuild", s.old, s.next, s.k, { tolerance, allowDiscontinuity: false })
        if (Math.abs(ratio - 1) > tolerance) {
          const error = failure(checked)
          assert.instanceOf(error, ScheduleDiscontinuity)
          assert.deepInclude(error, { resumeStep: s.k, lrBefore: before, lrAfter: after, jumpRatio: ratio, tolerance })
        } else {
          assert.deepStrictEqual(succeed(checked), r)
        }
      }),
      { numRuns: 250 }
    )
  })

  it("restart: the new schedule from step 0, whatever the resume step", () => {
    fc.assert(
      fc.property(storedArb, wsdArb(1, 300), fc.integer({ min: 0, max: 2000 }), (old, next, k) => {
        const r = succeed(reconcileSchedule("restart", old, next, k, strict))
        assert.strictEqual(r.schedule, next)
        assert.strictEqual(r.lrBefore, lr(old, k))
        assert.strictEqual(r.lrAfter, lr(next, 0))
      }),
      { numRuns: 100 }
    )
  })

  it("rejects a resume step at or beyond the new total, naming both, for every action but restart", () => {
    const actions: Array<ScheduleAction> = ["keep", "extend", "rewarm", "rebuild"]
    fc.assert(
      fc.property(
        storedArb,
        wsdArb(1, 300),
        fc.integer({ min: 0, max: 500 }),
        fc.constantFrom(...actions),
        (old, next, over, action) => {
          const k = next.totalSteps + over
          const error = failure(reconcileSchedule(action, old, next, k, lenient))
          assert.instanceOf(error, ResumeStepBeyondTotal)
          assert.deepInclude(error, { resumeStep: k, totalSteps: next.totalSteps })
          assert.include(error.message, String(k))
          assert.include(error.message, String(next.totalSteps))
        }
      ),
      { numRuns: 100 }
    )
  })
})

describe("reconcileSchedule examples", () => {
  // torchtitan's original default: warm-up then decay over the rest of the run.
  const warmupDecay: ScheduleConfig = { kind: "warmup-decay", warmupSteps: 10, decayShape: "linear", minLrFactor: 0.1 }
  const old = resolve(warmupDecay, 1e-3, 100)
  const longer = resolve(warmupDecay, 1e-3, 200)

  it("rebuild after changing the total (torchtitan's behaviour) jumps at the resume step and is rejected", () => {
    const before = lr(old, 60)
    const after = lr(longer, 60)
    assert.isAbove(after / before, 1.5)
    const error = failure(reconcileSchedule("rebuild", old, longer, 60, strict))
    assert.instanceOf(error, ScheduleDiscontinuity)
    assert.deepInclude(error, { resumeStep: 60, lrBefore: before, lrAfter: after, jumpRatio: after / before })
    assert.include(error.message, String(Number(before.toPrecision(6))))
    assert.include(error.message, String(Number(after.toPrecision(6))))

    const allowed = succeed(reconcileSchedule("rebuild", old, longer, 60, lenient))
    assert.strictEqual(allowed.jumpRatio, after / before)
    assert.strictEqual(lr(allowed.schedule, 60), after)
  })

  it("extend after changing the total is continuous and decays to the floor at the new end", () => {
    const r = succeed(reconcileSchedule("extend", old, longer, 60, strict))
    const s60 = lr(old, 60)
    assert.strictEqual(lr(r.schedule, 59), lr(old, 59))
    assert.strictEqual(lr(r.schedule, 60), s60)
    assert.isBelow(lr(r.schedule, 61), s60)
    assert.isAbove(lr(r.schedule, 199), 1e-4)
    assert.strictEqual(lr(r.schedule, 200), 1e-3 * 0.1)
    assert.strictEqual(lr(r.schedule, 5000), 1e-3 * 0.1)
    assert.isTrue(r.notes.some((n) => n.includes("decay phase")))
  })

  it("a schedule run past its end stays at the floor instead of going negative or rising", () => {
    for (const decayShape of ["linear", "sqrt", "cosine"] as const) {
      const s = resolve({ ...warmupDecay, decayShape }, 1e-3, 100)
      for (const t of [100, 101, 150, 199, 1000]) assert.strictEqual(lr(s, t), 1e-3 * 0.1)
    }
  })

  it("extend during the warm-up finishes the same warm-up, holds, and decays over the new last 20%", () => {
    const reference = resolve(referenceScheduleConfig, 3e-3, 600)
    const next = resolve(referenceScheduleConfig, 3e-3, 1000)
    const r = succeed(reconcileSchedule("extend", reference, next, 20, strict))
    for (let t = 0; t < 50; t++) assert.strictEqual(lr(r.schedule, t), lr(reference, t))
    for (const t of [50, 500, 799]) assert.strictEqual(lr(r.schedule, t), 3e-3)
    assert.isBelow(lr(r.schedule, 801), 3e-3)
    assert.strictEqual(lr(r.schedule, 1000), 3e-3 * 0.1)
  })

  it("extend during the warm-up into a run too short to finish it decays from the level reached", () => {
    const reference = resolve(referenceScheduleConfig, 3e-3, 600)
    const short = resolve(
      { ...referenceScheduleConfig, warmupSteps: 0, decayRatio: undefined, decaySteps: 30 },
      3e-3,
      60
    )
    const r = succeed(reconcileSchedule("extend", reference, short, 10, strict))
    assert.strictEqual(lr(r.schedule, 29), lr(reference, 29))
    assert.strictEqual(lr(r.schedule, 30), lr(reference, 30))
    assert.isBelow(lr(r.schedule, 31), lr(r.schedule, 30))
    assert.isTrue(r.notes.some((n) => n.includes("cut at the new decay start 30")))
  })

  it("extend again inside a warm-up that an earlier extend cut short stays continuous", () => {
    const reference = resolve(referenceScheduleConfig, 3e-3, 600)
    const short = resolve(
      { ...referenceScheduleConfig, warmupSteps: 0, decayRatio: undefined, decaySteps: 30 },
      3e-3,
      60
    )
    const cutShort = succeed(reconcileSchedule("extend", reference, short, 10, strict)).schedule
    const longer = resolve(
      { ...referenceScheduleConfig, warmupSteps: 0, decayRatio: undefined, decaySteps: 30 },
      3e-3,
      100
    )
    const r = succeed(reconcileSchedule("extend", cutShort, longer, 20, strict))
    const reached = lr(cutShort, 30)
    assert.strictEqual(lr(r.schedule, 20), lr(cutShort, 20))
    assert.strictEqual(lr(r.schedule, 30), reached)
    for (const t of [31, 50, 69]) assert.strictEqual(lr(r.schedule, t), reached)
    assert.isBelow(lr(r.schedule, 71), reached)
    assert.strictEqual(lr(r.schedule, 100), 3e-3 * 0.1)
  })

  it("extend with a new optimizer.lr keeps the current level and says so", () => {
    const reference = resolve(referenceScheduleConfig, 3e-3, 600)
    const next = resolve(referenceScheduleConfig, 1e-3, 800)
    const r = succeed(reconcileSchedule("extend", reference, next, 300, strict))
    assert.strictEqual(lr(r.schedule, 600), 3e-3)
    assert.strictEqual(lr(r.schedule, 800), 3e-3 * 0.1)
    assert.isTrue(r.notes.some((n) => n.includes("optimizer.lr")))
  })

  it("rewarm from the floor of a finished run climbs to the new peak, holds, and decays to N'", () => {
    const finished = resolve(referenceScheduleConfig, 3e-3, 600)
    const next = resolve({ ...referenceScheduleConfig, warmupSteps: 20, decayRatio: 0.2 }, 1e-3, 1000)
    const r = succeed(reconcileSchedule("rewarm", finished, next, 600, strict))
    assert.strictEqual(r.lrBefore, 3e-3 * 0.1)
    assert.strictEqual(lr(r.schedule, 600), 3e-3 * 0.1)
    assert.isAbove(lr(r.schedule, 610), lr(r.schedule, 609))
    assert.strictEqual(lr(r.schedule, 620), 1e-3)
    assert.strictEqual(lr(r.schedule, 800), 1e-3)
    assert.isBelow(lr(r.schedule, 801), 1e-3)
    assert.strictEqual(lr(r.schedule, 1000), 1e-3 * 0.1)
  })

  it("rewarm into warmup-decay decays right after the ramp, shortened to end at N'", () => {
    const r = succeed(reconcileSchedule("rewarm", old, longer, 60, strict))
    assert.strictEqual(lr(r.schedule, 60), lr(old, 60))
    assert.strictEqual(lr(r.schedule, 70), 1e-3)
    assert.isBelow(lr(r.schedule, 71), 1e-3)
    assert.strictEqual(lr(r.schedule, 200), 1e-4)
    assert.isTrue(r.notes.some((n) => n.includes("lasts 130 steps instead of 190")))
  })

  it("rewarm rejects a zero warm-up and a ramp that does not end before N'", () => {
    const noWarmup = resolve({ ...referenceScheduleConfig, warmupSteps: 0 }, 3e-3, 1000)
    const zero = failure(reconcileSchedule("rewarm", old, noWarmup, 60, strict))
    assert.instanceOf(zero, RewarmDoesNotFit)
    assert.include(zero.message, "schedule.warmupSteps = 0")
    const tooLong = resolve({ ...referenceScheduleConfig, warmupSteps: 50 }, 3e-3, 100)
    const late = failure(reconcileSchedule("rewarm", old, tooLong, 60, strict))
    assert.instanceOf(late, RewarmDoesNotFit)
    assert.include(late.message, "step 110")
  })

  it("keep names each changed field with its old and new value", () => {
    const error = failure(reconcileSchedule("keep", old, longer, 60, strict))
    assert.instanceOf(error, ScheduleKeepMismatch)
    assert.deepStrictEqual((error as ScheduleKeepMismatch).differences, [
      { field: "totalSteps", old: 100, new: 200 },
      { field: "decaySteps", old: 90, new: 190 }
    ])
    assert.include(error.message, "totalSteps 100 → 200")
  })

  it("keep after an extend compares against the configuration in force, and keeps the spliced schedule", () => {
    const extended = succeed(reconcileSchedule("extend", old, longer, 60, strict)).schedule
    const r = succeed(reconcileSchedule("keep", extended, longer, 150, strict))
    assert.strictEqual(r.schedule, extended)
    const again = succeed(reconcileSchedule("extend", extended, resolve(warmupDecay, 1e-3, 300), 150, strict))
    assert.strictEqual(lr(again.schedule, 150), lr(extended, 150))
    for (let t = 0; t < 150; t++) assert.strictEqual(lr(again.schedule, t), lr(extended, t))
    assert.strictEqual(lr(again.schedule, 300), 1e-4)
  })

  it("rejects a negative or fractional resume step and a bad tolerance", () => {
    for (const k of [-1, 1.5]) {
      const error = failure(reconcileSchedule("extend", old, longer, k, strict))
      assert.instanceOf(error, InvalidReconcileInput)
      assert.deepInclude(error, { field: "resumeStep", value: k })
    }
    for (const tolerance of [-0.1, Number.NaN, Infinity]) {
      const error = failure(reconcileSchedule("rebuild", old, longer, 60, { tolerance, allowDiscontinuity: false }))
      assert.instanceOf(error, InvalidReconcileInput)
      assert.strictEqual((error as InvalidReconcileInput).field, "tolerance")
    }
  })

  it.effect("composes into Effect code, failing with the tagged error", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Effect.fromResult(reconcileSchedule("rebuild", old, longer, 60, strict)))
      assert.strictEqual(error._tag, "ScheduleDiscontinuity")
      const ok = yield* Effect.fromResult(reconcileSchedule("extend", old, longer, 60, strict))
      assert.strictEqual(ok.jumpRatio, 1)
    }))
})
