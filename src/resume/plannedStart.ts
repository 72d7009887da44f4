import { Context, Effect, Layer, Schema } from "effect"
import { CheckpointStore } from "../checkpoint/CheckpointStore.ts"
import { RunSettings } from "../config/RunSettings.ts"
import { newRunId, type OptimizerState, Start } from "../config/Start.ts"
import { DataLoader } from "../data/DataLoader.ts"
import type { ResumePlan } from "./plan.ts"
import { planResume } from "./planner.ts"
import type { ResumePolicy } from "./policy.ts"
import { openSource } from "./source.ts"

/**
 * Plans a resume against the run's configuration and dataset, and — only if the plan is
 * accepted — loads what it needs. Built as the `Start` layer, so a rejected plan fails the
 * construction of the run: no step ever runs and nothing is written.
 */
export const planResumeStart = (policy: ResumePolicy, from: string | undefined) =>
  Effect.gen(function*() {
    const config = yield* RunSettings
    const data = yield* DataLoader
    const source = yield* openSource(from)
    const plan = yield* planResume({ policy, source: source.input, config, dataFingerprint: data.fingerprint })
    return { plan, source }
  })

/**
 * The run directory holds checkpoints past the step the run would start from. Continuing there
 * would interleave two trajectories, and a crash could later resume from the stale one.
 */
export class RunDirConflict extends Schema.TaggedError<RunDirConflict>()("RunDirConflict", {
  location: Schema.String,
  startStep: Schema.Number,
  newerSteps: Schema.Array(Schema.Number)
}) {
  override get message(): string {
    return `${this.location} holds checkpoints past the start step ${this.startStep} (steps ${
      this.newerSteps.join(", ")
    }): ` +
      `resume into a new runDir, or delete those checkpoints first`
  }
}

/**
 * The plan a planned start accepted, for whoever reports it (the CLI prints it, tests inspect it);
 * `undefined` when the run starts fresh. The run itself reads only `Start`.
 */
export const AcceptedPlan = Context.Reference<ResumePlan | undefined>("continuum/AcceptedPlan", {
  defaultValue: () => undefined
})

/** Why a planned start fails: the plan was rejected, its source unreadable, or the run directory conflicts. */
export type PlannedStartError = Layer.Error<ReturnType<typeof plannedStartLayer>>

/** A `Start` planned from `policy` and the source `from`; provides the plan as `AcceptedPlan` too. */
export const plannedStartLayer = (policy: ResumePolicy, from: string | undefined) =>
  Layer.effectContext(
    Effect.gen(function*() {
      const { plan, source } = yield* planResumeStart(policy, from)
      const store = yield* CheckpointStore
      // Only valid newer checkpoints are a hazard: a corrupt one is never resumed from, and is
      // replaced when the run saves that step again.
      const candidates = (yield* store.list).filter((c) => c.hasManifest && c.step > plan.startStep)
      const reports = yield* Effect.forEach(candidates, (c) => store.verify(c.step))
      const newer = reports.filter((r) => r.problems.length === 0).map((r) => r.step)
      if (newer.length > 0) {
        return yield* new RunDirConflict({ location: store.location, startStep: plan.startStep, newerSteps: newer })
      }
      const loaded = plan.model.action === "load" ? yield* source.loadModel : {}
      const modelTensors = Object.fromEntries(plan.model.load.map((name) => [name, loaded[name]!]))
      const optimizer: OptimizerState | undefined = plan.optimizer.action === "load"
        ? {
          kind: plan.optimizer.kind,
          step: plan.optimizer.step,
          tensors: new Map(Object.entries(yield* source.loadOptimizer))
        }
        : undefined
      const manifest = source.manifest
      // Recovering the same run (exact) keeps its identity; any other policy starts a new run.
      const runId = manifest !== undefined && plan.policyName === "exact" ? manifest.runId : newRunId()
      const start = Context.make(Start, {
        runId,
        step: plan.startStep,
        cursor: plan.data.cursor,
        tokensSeen: plan.data.tokensSeen,
        parent: manifest === undefined
          ? undefined
          : { runId: manifest.runId, step: manifest.step, policy: plan.policyName },
        modelTensors: plan.model.action === "load" ? modelTensors : undefined,
        optimizer,
        schedule: plan.schedule.schedule,
        resumed: { policy: plan.policyName, scheduleAction: plan.schedule.action }
      })
      return Context.add(start, AcceptedPlan, plan)
    })
  )
