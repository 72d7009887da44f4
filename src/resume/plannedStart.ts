import { Context, Effect, Layer, Schema } from "effect"
import { CheckpointStore, type CheckpointStoreShape } from "../checkpoint/CheckpointStore.ts"
import { RunSettings } from "../config/RunSettings.ts"
import { newRunId, type OptimizerState, Start } from "../config/Start.ts"
import { DataLoader } from "../data/DataLoader.ts"
import type { ResumePlan } from "./plan.ts"
import { planResume } from "./planner.ts"
import type { ResumePolicy } from "./policy.ts"
import { type OpenedSource, openSource } from "./source.ts"
import { newestUsable } from "./usableCheckpoint.ts"

/** Plans a resume from an opened source against the run's configuration and dataset. */
const planAgainst = (policy: ResumePolicy, source: OpenedSource) =>
  Effect.gen(function*() {
    const config = yield* RunSettings
    const data = yield* DataLoader
    return yield* planResume({
      policy,
      source: source.input,
      config,
      dataFingerprint: data.fingerprint,
      ranks: data.geometry.dp
    })
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

/**
 * Refuses when a valid checkpoint lies past the step the run would start from; `passedOver` are
 * steps found unusable on the way to the chosen checkpoint, which are never resumed from and are
 * replaced when the run saves those steps again.
 */
const checkNothingNewer = (store: CheckpointStoreShape, startStep: number, passedOver: ReadonlySet<number>) =>
  Effect.gen(function*() {
    const candidates = (yield* store.list).filter((c) => c.hasManifest && c.step > startStep && !passedOver.has(c.step))
    const reports = yield* Effect.forEach(candidates, (c) => store.verify(c.step))
    const newer = reports.filter((r) => r.problems.length === 0).map((r) => r.step)
    if (newer.length > 0) {
      return yield* new RunDirConflict({ location: store.location, startStep, newerSteps: newer })
    }
  })

/** The `Start` (and the plan beside it) of an accepted plan, with the tensors it loads read. */
const startOf = (plan: ResumePlan, source: OpenedSource) =>
  Effect.gen(function*() {
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

/**
 * A `Start` planned from `policy` and the source `from`; provides the plan as `AcceptedPlan` too.
 * Without `from`, the newest of the run's checkpoints that verifies, plans and loads: newer ones
 * that do not are passed over with a warning each (usableCheckpoint.ts).
 */
export const plannedStartLayer = (policy: ResumePolicy, from: string | undefined) =>
  Layer.effectContext(
    Effect.gen(function*() {
      const store = yield* CheckpointStore
      const context = yield* Effect.context<RunSettings | DataLoader>()
      if (from !== undefined) {
        const source = yield* openSource(from)
        const plan = yield* planAgainst(policy, source)
        yield* checkNothingNewer(store, plan.startStep, new Set())
        return yield* startOf(plan, source)
      }
      const { value } = yield* newestUsable(store, {
        plan: (source) => Effect.provideContext(planAgainst(policy, source), context),
        accept: (plan, source, skipped) =>
          Effect.andThen(
            checkNothingNewer(store, plan.startStep, new Set(skipped.map((s) => s.step))),
            startOf(plan, source)
          )
      })
      return value
    })
  )
