/**
 * `checkPolicyLaws`: after stopping at k, changing the configuration and resuming with a policy,
 * the laws of `PolicyLaw` hold. Each law is a function that returns the first difference that
 * breaks it; the check runs them in the order `PolicyLaw` lists them.
 */
import { NodeFileSystem } from "@effect/platform-node"
import { Effect } from "effect"
import * as NodePath from "node:path"
import { canonicalJson } from "../checkpoint/canonicalJson.ts"
import type { CheckpointState } from "../checkpoint/checkpointState.ts"
import { checkpointsDir, stepDirName } from "../checkpoint/layout.ts"
import type { RunConfig } from "../config/RunConfig.ts"
import { modelFromConfig } from "../model/fromConfig.ts"
import { lr, resolveSchedule } from "../optim/schedule.ts"
import { plannedStartLayer } from "../resume/plannedStart.ts"
import { selectTensors } from "../resume/planner.ts"
import type { ResumePolicy } from "../resume/policy.ts"
import { DEFAULT_LR_JUMP_TOLERANCE } from "../resume/reconcile.ts"
import type { StepEvent, TrainEvent } from "../train/events.ts"
import { runLayer } from "../train/layers.ts"
import { applyChanges, type ConfigChanges } from "./changes.ts"
import { type Difference, firstTensorDifference, show } from "./compare.ts"
import { PolicyLaw, PolicyLawViolated, type ResumeCheckError } from "./errors.ts"
import { checkpointStates, readCheckpoint, type StoredCheckpoint } from "./results.ts"
import { checkStopPoints, type Initial, type RunBuilder, train, trainUntil, withRunDir, workDirectory } from "./runs.ts"

export interface PolicyLawOptions {
  /** The run that is stopped at each k; its `runDir` is not used. */
  readonly config: RunConfig
  readonly policy: ResumePolicy
  /** Changes of the resumed run (e.g. `{ steps: 24, "batch.global": 8 }`). */
  readonly changes?: ConfigChanges
  /** Steps k to stop at, each in [1, config.steps − 1] (and below the new total under step keep). */
  readonly stopAt: ReadonlyArray<number>
  readonly build?: RunBuilder
  /** Largest accepted |lr_after(k) − lr_before(k)| for keep, extend and rewarm; default 1e-12. */
  readonly lrTolerance?: number
  readonly workDir?: string
}

export interface PolicyLawReport {
  readonly stopPoints: ReadonlyArray<{
    readonly stopAt: number
    /** `S(k)`: the stored schedule's LR at k. */
    readonly lrBefore: number
    /** The LR of the first update after the resume. */
    readonly lrAfter: number
    /** The data cursor stored at k, and after the resumed run's last step. */
    readonly cursorAtStop: number
    readonly finalCursor: number
    /** Model tensors taken from the checkpoint, and those initialized fresh. */
    readonly loaded: ReadonlyArray<string>
    readonly fresh: ReadonlyArray<string>
  }>
}

// ---- the laws ---------------------------------------------------------------------------------

/** model-load: the selection (on the checkpoint's tensors of the same shape) or fresh init. */
const modelLoad = (policy: ResumePolicy, next: RunConfig, stored: StoredCheckpoint, initial: Initial) => {
  const fresh = modelFromConfig(next.model).init(next.seed)
  const specs = modelFromConfig(next.model).params
  const selected = new Set(
    policy.model === "load" ? selectTensors(specs.map((s) => s.name), policy.tensors).selected : []
  )
  const loaded: Array<string> = []
  const freshNames: Array<string> = []
  for (const spec of specs) {
    const source = stored.model[spec.name]
    const fromSource = selected.has(spec.name) && source !== undefined &&
      canonicalJson(source.shape) === canonicalJson(spec.shape)
    ;(fromSource ? loaded : freshNames).push(spec.name)
    const want = fromSource ? source : fresh.get(spec.name)!
    const difference = firstTensorDifference(fromSource ? "model (loaded)" : "model (fresh)", { [spec.name]: want }, {
      [spec.name]: initial.params[spec.name]!
    }, null)
    if (difference !== undefined) return { loaded, fresh: freshNames, difference }
  }
  return { loaded, fresh: freshNames, difference: undefined }
}

/** optimizer-state: zero moments at step 0 after reset, the checkpoint's after load. */
const optimizerState = (policy: ResumePolicy, stored: StoredCheckpoint, initial: Initial): Difference | undefined => {
  if (policy.optimizer === "reset") {
    if (initial.optimizerStep !== 0) {
      return { step: null, field: "optimizer step", expected: "0", actual: show(initial.optimizerStep) }
    }
    const zeros = Object.fromEntries(
      Object.entries(initial.optimizer).map((
        [name, t]
      ) => [name, { shape: t.shape, data: new Float32Array(t.data.length) }])
    )
    return firstTensorDifference("optimizer", zeros, initial.optimizer, null)
  }
  if (initial.optimizerStep !== stored.state.optimizer.step) {
    return {
      step: null,
      field: "optimizer step",
      expected: show(stored.state.optimizer.step),
      actual: show(initial.optimizerStep)
    }
  }
  return firstTensorDifference("optimizer", stored.optimizer, initial.optimizer, null)
}

/** step-counter: the updates after the resume are start + 1 … N' (start k under keep, 0 under reset). */
const stepCounter = (start: number, totalSteps: number, steps: ReadonlyArray<StepEvent>): Difference | undefined => {
  const expectedSteps = Array.from({ length: totalSteps - start }, (_, i) => start + 1 + i)
  if (canonicalJson(steps.map((e) => e.step)) !== canonicalJson(expectedSteps)) {
    return {
      step: null,
      field: "steps run after the resume",
      expected: `${start + 1}…${totalSteps}`,
      actual: steps.length === 0
        ? "none"
        : `${steps[0]!.step}…${steps[steps.length - 1]!.step} (${steps.length} updates)`
    }
  }
  return undefined
}

/** lr-nonnegative: every update of both runs. */
const lrNonnegative = (events: ReadonlyArray<TrainEvent>): Difference | undefined => {
  for (const e of events) {
    if (e._tag === "Step" && !(Number.isFinite(e.lr) && e.lr >= 0)) {
      return { step: e.step, field: "lr", expected: "a finite LR ≥ 0", actual: show(e.lr) }
    }
  }
  return undefined
}

/**
 * lr-continuity / lr-restart at the resume step: keep, extend and rewarm continue at the stored
 * LR, rebuild jumps within the policy's tolerance, restart starts at the new schedule's LR at 0.
 */
const lrAtResume = (
  policy: ResumePolicy,
  next: RunConfig,
  k: number,
  lrBefore: number,
  lrAfter: number,
  tolerance: number
): { readonly law: PolicyLaw; readonly difference: Difference } | undefined => {
  const schedule = policy.schedule
  if (schedule === "keep" || schedule === "extend" || schedule === "rewarm") {
    if (!(Math.abs(lrAfter - lrBefore) <= tolerance)) {
      return {
        law: "lr-continuity",
        difference: {
          step: k + 1,
          field: `lr (schedule ${schedule}, |Δ| ≤ ${tolerance})`,
          expected: show(lrBefore),
          actual: show(lrAfter)
        }
      }
    }
  } else if (schedule === "rebuild") {
    const limit = policy.tolerance ?? DEFAULT_LR_JUMP_TOLERANCE
    const jump = lrBefore === 0 ? (lrAfter === 0 ? 0 : Infinity) : Math.abs(lrAfter / lrBefore - 1)
    if (policy.allowDiscontinuity !== true && !(jump <= limit)) {
      return {
        law: "lr-continuity",
        difference: {
          step: k + 1,
          field: `lr (schedule rebuild, relative jump ≤ ${limit})`,
          expected: show(lrBefore),
          actual: show(lrAfter)
        }
      }
    }
  } else {
    const restartLr = lr(resolveSchedule(next.schedule, next.optimizer.lr, next.steps), 0)
    if (!(Math.abs(lrAfter - restartLr) <= tolerance)) {
      return {
        law: "lr-restart",
        difference: { step: 1, field: "lr", expected: show(restartLr), actual: show(lrAfter) }
      }
    }
  }
  return undefined
}

/** data-cursor at the stop: k·B. */
const cursorAtStop = (k: number, batch: number, cursor: number): Difference | undefined =>
  cursor !== k * batch
    ? { step: k, field: "data.cursor at the stop", expected: show(k * batch), actual: show(cursor) }
    : undefined

/** data-cursor after the resume: base + B' per update at every checkpoint, never back. */
const cursorsAfterResume = (
  base: number,
  start: number,
  batch: number,
  states: ReadonlyArray<CheckpointState>
): Difference | undefined => {
  let previous = base
  for (const state of states) {
    const want = base + (state.step - start) * batch
    if (state.data.cursor !== want || state.data.cursor < previous) {
      return {
        step: state.step,
        field: `checkpoint ${stepDirName(state.step)} data.cursor`,
        expected: show(want),
        actual: show(state.data.cursor)
      }
    }
    previous = state.data.cursor
  }
  return undefined
}

// ---- the check --------------------------------------------------------------------------------

/**
 * For each stop point k: trains `config` 0→k, applies `changes`, resumes with `policy` from the
 * checkpoint at k and checks every law of `PolicyLaw`; fails with the first `PolicyLawViolated`.
 */
export const checkPolicyLaws = (
  options: PolicyLawOptions
): Effect.Effect<PolicyLawReport, ResumeCheckError | PolicyLawViolated> =>
  Effect.scoped(Effect.gen(function*() {
    const build = options.build ?? runLayer
    const { config, policy } = options
    const tolerance = options.lrTolerance ?? 1e-12
    const stops = yield* checkStopPoints(options.stopAt, config.steps)
    const work = yield* workDirectory(options.workDir)
    const stopPoints: Array<PolicyLawReport["stopPoints"][number]> = []

    for (const k of stops) {
      const violated = (law: PolicyLaw, d: Difference) => new PolicyLawViolated({ law, stopAt: k, ...d })
      const beforeDir = NodePath.join(work, `stop-${k}`, "before")
      const afterDir = NodePath.join(work, `stop-${k}`, "after")
      const before = yield* trainUntil(build, config, beforeDir, k)
      const stored = yield* readCheckpoint(beforeDir, k, "interrupted", k)
      const next = withRunDir(yield* applyChanges(config, options.changes ?? {}), afterDir)
      const from = NodePath.join(checkpointsDir(beforeDir), stepDirName(k))
      const after = yield* train(build, next, plannedStartLayer(policy, from), "resumed", {
        label: k,
        captureInitial: true
      })
      const initial = after.initial!

      const model = modelLoad(policy, next, stored, initial)
      if (model.difference !== undefined) return yield* violated("model-load", model.difference)

      const optimizerDifference = optimizerState(policy, stored, initial)
      if (optimizerDifference !== undefined) return yield* violated("optimizer-state", optimizerDifference)

      const start = policy.step === "keep" ? k : 0
      const steps = after.events.flatMap((e) => (e._tag === "Step" ? [e] : []))
      const stepDifference = stepCounter(start, next.steps, steps)
      if (stepDifference !== undefined) return yield* violated("step-counter", stepDifference)

      const negativeLr = lrNonnegative(before.events.concat(after.events))
      if (negativeLr !== undefined) return yield* violated("lr-nonnegative", negativeLr)

      const lrBefore = lr(stored.state.schedule, k)
      const lrAfter = steps[0]!.lr
      const lrBroken = lrAtResume(policy, next, k, lrBefore, lrAfter, tolerance)
      if (lrBroken !== undefined) return yield* violated(lrBroken.law, lrBroken.difference)

      const stopCursor = stored.state.data.cursor
      const stopDifference = cursorAtStop(k, config.batch.global, stopCursor)
      if (stopDifference !== undefined) return yield* violated("data-cursor", stopDifference)
      const base = policy.data === "load" ? stopCursor : 0
      const states = yield* checkpointStates(afterDir, "resumed", k)
      const cursorDifference = cursorsAfterResume(base, start, next.batch.global, states)
      if (cursorDifference !== undefined) return yield* violated("data-cursor", cursorDifference)

      stopPoints.push({
        stopAt: k,
        lrBefore,
        lrAfter,
        cursorAtStop: stopCursor,
        finalCursor: states.length > 0 ? states[states.length - 1]!.data.cursor : base,
        loaded: model.loaded,
        fresh: model.fresh
      })
    }
    return { stopPoints }
  })).pipe(Effect.provide(NodeFileSystem.layer))
