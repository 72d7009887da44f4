/**
 * Which of the run's own checkpoints a resume without `--from` starts from: the newest one that
 * verifies, plans and loads. A crash, a full disk or a bug can leave the newest checkpoint
 * unusable while an older one is sound, so unusable ones are passed over, newest first, each named
 * with its reason. A rejection that comes from the new configuration rather than from the
 * checkpoint ends the search instead: an older checkpoint would be rejected for the same reason,
 * and the user has to hear that reason, not a list of skipped checkpoints.
 */
import { Effect, Option, Result, Schema } from "effect"
import * as NodePath from "node:path"
import type { CheckpointStoreShape, VerifyReport } from "../checkpoint/CheckpointStore.ts"
import { CheckpointCorrupt } from "../checkpoint/errors.ts"
import type { Manifest } from "../checkpoint/manifest.ts"
import type { RunConfig } from "../config/RunConfig.ts"
import { describeReason, type PlanRejected, type RejectionReason, type ResumePlan } from "./plan.ts"
import { computePlan } from "./planner.ts"
import { presets } from "./policy.ts"
import { checkpointSource, hasManifest, type OpenedSource, ResumeSourceError, type SourceReadError } from "./source.ts"

/** A checkpoint passed over, and why, in one line. */
export interface SkippedCheckpoint {
  readonly step: number
  readonly location: string
  readonly reason: string
}

/** The run directory holds checkpoints, and none of them can be resumed from. */
export class NoUsableCheckpoint extends Schema.TaggedError<NoUsableCheckpoint>()("NoUsableCheckpoint", {
  location: Schema.String,
  skipped: Schema.Array(Schema.Struct({ step: Schema.Number, location: Schema.String, reason: Schema.String }))
}) {
  override get message(): string {
    return `no usable checkpoint in ${this.location}; every one was skipped: ` +
      this.skipped.map((s) => `${NodePath.basename(s.location)} (${s.reason})`).join(", ") +
      `; nothing was changed: repair or remove them, pass --from, or choose another runDir`
  }
}

/**
 * Reasons that make a checkpoint unusable whatever the new configuration says; any other
 * rejection is about the configuration and would apply to older checkpoints as well.
 */
const CHECKPOINT_DEFECTS: ReadonlySet<RejectionReason["_tag"]> = new Set([
  "CheckpointStateInvalid",
  "CheckpointConfigInvalid",
  "TrajectoryFingerprintMismatch",
  "ComponentCorrupt"
])

/** Multi-line details (decode errors) folded into the one line a skip is reported on. */
const oneLine = (text: string): string => text.replace(/\s*\n\s*/g, "; ")

const defectsOf = (rejection: PlanRejected): ReadonlyArray<RejectionReason> =>
  rejection.reasons.filter((r) => CHECKPOINT_DEFECTS.has(r._tag))

/** What the caller does with a checkpoint that planned: check the directory, then load it. */
export interface Candidate<A, E> {
  /** Plans a resume from the source; the plan is not yet accepted. */
  readonly plan: (source: OpenedSource) => Effect.Effect<ResumePlan, PlanRejected, never>
  /** Everything after an accepted plan; a corrupt tensor file passes the checkpoint over. */
  readonly accept: (
    plan: ResumePlan,
    source: OpenedSource,
    skipped: ReadonlyArray<SkippedCheckpoint>
  ) => Effect.Effect<A, E | SourceReadError, never>
}

/** One warning line per checkpoint passed over. */
export const reportSkipped = (skipped: ReadonlyArray<SkippedCheckpoint>) =>
  Effect.forEach(skipped, (s) => Effect.logWarning(`skipping checkpoint ${s.location}: ${s.reason}`), {
    discard: true
  })

/** Verifies a listed checkpoint; undefined when its directory is gone since the listing (retention). */
const verifyListed = (store: CheckpointStoreShape, step: number) =>
  store.verify(step).pipe(Effect.catchTag("CheckpointNotFound", () => Effect.succeed(undefined)))

/**
 * Tries the store's checkpoints newest first and returns what `candidate.accept` made of the first
 * usable one. Fails with `NoUsableCheckpoint` when there are checkpoints but none is usable; the
 * caller decides what an empty store means.
 */
export const newestUsable = <A, E>(store: CheckpointStoreShape, candidate: Candidate<A, E>) =>
  Effect.gen(function*() {
    const skipped: Array<SkippedCheckpoint> = []
    const skip = (step: number, location: string, reason: string) =>
      skipped.push({ step, location, reason: oneLine(reason) })
    for (const listing of yield* store.list) {
      const verified = yield* verifyListed(store, listing.step)
      if (verified === undefined) continue
      if (!hasManifest(verified) || verified.problems.length > 0) {
        const problem = verified.problems[0]
        skip(
          verified.step,
          verified.location,
          problem === undefined ? "does not verify" : `${problem.file}: ${problem.reason}: ${problem.detail}`
        )
        continue
      }
      const source = checkpointSource(store, verified)
      const planned = yield* Effect.result(candidate.plan(source))
      if (Result.isFailure(planned)) {
        const defects = defectsOf(planned.failure)
        if (defects.length === 0) {
          yield* reportSkipped(skipped)
          return yield* planned.failure
        }
        skip(verified.step, verified.location, defects.map(describeReason).join("; "))
        continue
      }
      const accepted = yield* Effect.result(candidate.accept(planned.success, source, skipped))
      if (Result.isFailure(accepted)) {
        const error = accepted.failure
        if (!(error instanceof CheckpointCorrupt)) {
          yield* reportSkipped(skipped)
          return yield* Effect.fail(error)
        }
        skip(verified.step, verified.location, `${error.file}: ${error.reason}: ${error.detail}`)
        continue
      }
      yield* reportSkipped(skipped)
      return { value: accepted.success, skipped: skipped as ReadonlyArray<SkippedCheckpoint> }
    }
    if (skipped.length === 0) {
      return yield* new ResumeSourceError({ source: store.location, message: "no valid checkpoint to resume from" })
    }
    return yield* new NoUsableCheckpoint({ location: store.location, skipped })
  })

/**
 * Why a verified checkpoint cannot be resumed from under any configuration (its state or stored
 * configuration does not decode, its fingerprint does not match), in one line; undefined if sound.
 * Judged by the planner itself, against `config` and the checkpoint's own dataset.
 */
export const checkpointDefects = (
  report: VerifyReport & { readonly manifest: Option.Some<Manifest> },
  config: RunConfig
): string | undefined => {
  const manifest = report.manifest.value
  const planned = computePlan({
    policy: presets.exact,
    source: { kind: "checkpoint", location: report.location, manifest, problems: report.problems },
    config,
    dataFingerprint: manifest.fingerprints.dataset
  })
  if (Result.isSuccess(planned)) return undefined
  const defects = defectsOf(planned.failure)
  return defects.length === 0 ? undefined : oneLine(defects.map(describeReason).join("; "))
}

/**
 * The newest checkpoint that verifies and has no defect of its own (see `checkpointDefects`),
 * without loading it: what a run's progress is judged by.
 */
export const newestSound = (store: CheckpointStoreShape, config: RunConfig) =>
  Effect.gen(function*() {
    for (const listing of yield* store.list) {
      const verified = yield* verifyListed(store, listing.step)
      if (verified === undefined || !hasManifest(verified) || verified.problems.length > 0) continue
      if (checkpointDefects(verified, config) === undefined) return Option.some(verified.step)
    }
    return Option.none<number>()
  })
