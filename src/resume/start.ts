import { Effect, FileSystem, Layer, Option, Schema } from "effect"
import { CheckpointStore, openCheckpointStore } from "../checkpoint/CheckpointStore.ts"
import { fileSystemDisk } from "../checkpoint/disk.ts"
import type { CheckpointIoError } from "../checkpoint/errors.ts"
import { readBoundedText } from "../config/boundedRead.ts"
import { parseJson } from "../config/jsonText.ts"
import { MAX_CONFIG_BYTES } from "../config/loadConfig.ts"
import type { RunConfig } from "../config/RunConfig.ts"
import type { RunSettings } from "../config/RunSettings.ts"
import { Start } from "../config/Start.ts"
import type { DataLoader } from "../data/DataLoader.ts"
import { type PlannedStartError, plannedStartLayer } from "./plannedStart.ts"
import { decodePolicy, PolicyError, presets, type ResumePolicy } from "./policy.ts"
import { newestSound } from "./usableCheckpoint.ts"

export interface StartRequest {
  /** `auto`, `exact`, `continue`, `transfer` or a policy JSON file; absent for a fresh run. */
  readonly resume: string | undefined
  /** A checkpoint directory or a .safetensors file; default: the latest valid checkpoint of runDir. */
  readonly from: string | undefined
}

/** How the run starts, failing with `E`; may read the settings, the dataset and the run's checkpoints. */
export type StartLayer<E = never> = Layer.Layer<
  Start,
  E,
  RunSettings | DataLoader | CheckpointStore | FileSystem.FileSystem
>

/** A fresh start was asked for, but the run directory already holds checkpoints. */
export class ResumeRefused extends Schema.TaggedError<ResumeRefused>()("ResumeRefused", {
  location: Schema.String,
  message: Schema.String
}) {}

/** Reads `--resume`: a preset name or a policy JSON file. */
export const readPolicy = (resume: string): Effect.Effect<ResumePolicy, PolicyError, FileSystem.FileSystem> => {
  if (resume in presets) return Effect.succeed(presets[resume as keyof typeof presets])
  return Effect.gen(function*() {
    // A policy file is read like a configuration file: a regular file, bounded, shallowly nested.
    const text = yield* readBoundedText(resume, MAX_CONFIG_BYTES).pipe(
      Effect.mapError((e) =>
        new PolicyError({
          source: resume,
          message: `not a preset (auto, exact, continue, transfer) and not a readable policy file: ${e.sentence}`
        })
      )
    )
    const json = yield* Effect.fromResult(parseJson(text)).pipe(
      Effect.mapError((reason) => new PolicyError({ source: resume, message: reason }))
    )
    return yield* decodePolicy(resume, json)
  })
}

/** Fresh start, refusing to overwrite a run directory that already holds checkpoints. */
const freshOnly: StartLayer<ResumeRefused | CheckpointIoError> = Layer.unwrap(Effect.gen(function*() {
  const store = yield* CheckpointStore
  const existing = (yield* store.list).filter((c) => c.hasManifest)
  if (existing.length > 0) {
    return yield* new ResumeRefused({
      location: store.location,
      message: `${store.location} already holds ${existing.length} checkpoint(s) (latest step ${existing[0]!.step}); ` +
        `pass --resume auto|exact|continue|transfer to resume, or choose another runDir`
    })
  }
  return Start.fresh
}))

/**
 * `auto`: exact recovery when the run directory holds checkpoints (or --from is given), a fresh
 * start only when it holds none. Checkpoints that are all unusable refuse the start: starting
 * fresh would overwrite the history they belong to.
 */
const auto = (from: string | undefined): StartLayer<PlannedStartError | CheckpointIoError> =>
  Layer.unwrap(Effect.gen(function*() {
    if (from !== undefined) return plannedStartLayer(presets.exact, from)
    const store = yield* CheckpointStore
    const existing = yield* store.list
    return existing.length > 0 ? plannedStartLayer(presets.exact, undefined) : Start.fresh
  }))

/**
 * For `--resume auto`: the step of a sound checkpoint (one a resume could start from) that already
 * completes the run, if any. A preemptible job requeued after it finished then exits 0 instead of
 * being refused.
 */
export const completedStep = (config: RunConfig) =>
  Effect.scoped(Effect.gen(function*() {
    const store = yield* openCheckpointStore(config.runDir, config.checkpoint.location, { cleanOnStart: false })
    const newest = yield* newestSound(store, config)
    return Option.isSome(newest) && newest.value >= config.steps ? newest.value : undefined
  }))

/** What `train` and `plan` print when `--resume auto` finds the run already complete at `step`. */
export const alreadyComplete = (config: RunConfig, step: number): string =>
  `run already complete: ${config.runDir} has a valid checkpoint at step ${step} (steps = ${config.steps})`

/** Why the start `resolveStart` decides on fails to build. */
export type ResolvedStartError = PlannedStartError | ResumeRefused | CheckpointIoError

/** Decides how the run starts from `--resume` and `--from`. */
export const resolveStart = (
  request: StartRequest
): Effect.Effect<StartLayer<ResolvedStartError>, PolicyError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    if (request.resume === undefined) {
      if (request.from !== undefined) {
        return yield* new PolicyError({
          source: "--from",
          message: "--from needs --resume (exact, continue, transfer or a policy file)"
        })
      }
      return freshOnly
    }
    if (request.resume === "auto") return auto(request.from)
    const policy = yield* readPolicy(request.resume)
    return plannedStartLayer(policy, request.from)
  })
