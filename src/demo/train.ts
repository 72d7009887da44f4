/**
 * Running one leg of a variant through the ordinary run layers — the same composition
 * `continuum train` uses — and, for the planner's refusals, building only the start of a run.
 */
import { Context, Effect, Layer, Result, Stream } from "effect"
import type { RunConfig } from "../config/RunConfig.ts"
import { Start } from "../config/Start.ts"
import { PlanRejected, type ResumePlan } from "../resume/plan.ts"
import { AcceptedPlan, plannedStartLayer } from "../resume/plannedStart.ts"
import type { ResumePolicy } from "../resume/policy.ts"
import type { TrainEvent } from "../train/events.ts"
import { plannedOnlyLayer, runLayer } from "../train/layers.ts"
import { Trainer } from "../train/Trainer.ts"
import { DemoError, describeFailure } from "./DemoError.ts"

/** How a leg starts: fresh, or planned from a policy and a checkpoint (default: the run's latest). */
export type LegStart =
  | { readonly _tag: "fresh" }
  | { readonly _tag: "resume"; readonly policy: ResumePolicy; readonly from?: string | undefined }

export interface LegOptions {
  readonly variant: string
  readonly config: RunConfig
  readonly start: LegStart
  /** Stop pulling after the checkpoint at this step (a stopped run); default: train to the end. */
  readonly stopAtCheckpoint?: number | undefined
  /** Sees every event (progress display). */
  readonly onEvent?: ((event: TrainEvent) => void) | undefined
}

export interface LegResult {
  /** The accepted plan of a resumed leg. */
  readonly plan: ResumePlan | undefined
  /** The last step the leg trained. */
  readonly lastStep: number
}

const startLayer = (start: LegStart) =>
  start._tag === "fresh" ? Start.fresh : plannedStartLayer(start.policy, start.from)

/** Trains one leg: builds the run (planning its start), pulls its events, returns the plan. */
export const trainLeg = (options: LegOptions): Effect.Effect<LegResult, DemoError> =>
  Effect.scoped(Effect.gen(function*() {
    const context = yield* Layer.build(runLayer(options.config, startLayer(options.start)))
    const events = Context.get(context, Trainer).events
    const stopAt = options.stopAtCheckpoint
    const pulled = stopAt === undefined
      ? events
      : events.pipe(Stream.takeUntil((e) => e._tag === "Checkpoint" && e.step === stopAt))
    let lastStep = 0
    yield* pulled.pipe(Stream.runForEach((event) =>
      Effect.sync(() => {
        if (event._tag === "Step") lastStep = event.step
        options.onEvent?.(event)
      })
    ))
    if (stopAt !== undefined && lastStep !== stopAt) {
      return yield* new DemoError({
        variant: options.variant,
        reason: `expected to stop at the checkpoint of step ${stopAt}, but the run ended at step ${lastStep}`
      })
    }
    return { plan: Context.get(context, AcceptedPlan), lastStep }
  })).pipe(
    Effect.mapError((error: unknown) =>
      error instanceof DemoError ? error : new DemoError({ variant: options.variant, reason: describeFailure(error) })
    )
  )

/**
 * Plans a resume the way `continuum train` would, without training: the plan must be rejected.
 * Returns the rejection; an accepted plan is a DemoError (the demo's claim would be false).
 */
export const expectRejection = (
  variant: string,
  config: RunConfig,
  policy: ResumePolicy,
  from: string
): Effect.Effect<PlanRejected, DemoError> =>
  Effect.scoped(Layer.build(plannedOnlyLayer(config, plannedStartLayer(policy, from)))).pipe(
    Effect.result,
    Effect.flatMap((result) => {
      if (Result.isFailure(result) && result.failure instanceof PlanRejected) return Effect.succeed(result.failure)
      return Effect.fail(
        new DemoError({
          variant,
          reason: Result.isSuccess(result)
            ? "the planner accepted a plan the demo expects it to reject"
            : describeFailure(result.failure)
        })
      )
    })
  )
