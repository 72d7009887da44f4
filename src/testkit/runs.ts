/**
 * Running the runs a check compares: building a composition, training it (to the end, or
 * stopping right after a checkpoint as a crash would), and where the runs go.
 */
import { Context, Effect, Layer, Stream } from "effect"
import * as nodeFs from "node:fs"
import * as os from "node:os"
import * as NodePath from "node:path"
import type { RunConfig } from "../config/RunConfig.ts"
import { Start } from "../config/Start.ts"
import { Model } from "../model/ModelService.ts"
import { Optimizer } from "../optim/OptimizerService.ts"
import type { StartLayer } from "../resume/start.ts"
import type { Tensor } from "../tensor/tensor.ts"
import type { TrainEvent } from "../train/events.ts"
import { Trainer } from "../train/Trainer.ts"
import { InvalidStopPoint, ResumeRunFailed } from "./errors.ts"

/** How a run starts (fresh or planned); what `runLayer` takes as its second argument. */
export type RunStart = StartLayer<unknown>

/**
 * A run composition: the layers of a complete run for a configuration and a start. The checks
 * pull `Trainer.events` to train, and read `Model` and `Optimizer` right after the build (before
 * any step) to check what a resume loaded. The default is `runLayer`.
 */
export type RunBuilder = (config: RunConfig, start: RunStart) => Layer.Layer<Trainer | Model | Optimizer, unknown>

/** The same run, written to `runDir`. */
export const withRunDir = (config: RunConfig, runDir: string): RunConfig => ({ ...config, runDir })

/** A run that checkpoints at `k` (and its multiples): exact allows the cadence to change. */
export const checkpointingAt = (config: RunConfig, k: number): RunConfig => ({
  ...config,
  checkpoint: { ...config.checkpoint, every: k }
})

/** Which of a check's runs an error is about. */
export type RunName = ResumeRunFailed["run"]

/** The model and optimizer right after the build, before any step: what the start loaded. */
export interface Initial {
  readonly params: Record<string, Tensor>
  readonly optimizerStep: number
  readonly optimizer: Record<string, Tensor>
}

const copyTensors = (tensors: ReadonlyMap<string, Tensor>): Record<string, Tensor> =>
  Object.fromEntries([...tensors].map(([name, t]) => [name, { shape: [...t.shape], data: t.data.slice() }]))

/**
 * Builds and trains one run; with `stopAt`, stops pulling right after the checkpoint event of that
 * step (the checkpoint is on disk once the scope closes, even an asynchronous one).
 */
export const train = (
  build: RunBuilder,
  config: RunConfig,
  start: RunStart,
  run: RunName,
  options: { readonly stopAt?: number; readonly label: number | null; readonly captureInitial?: boolean }
) =>
  Effect.scoped(Effect.gen(function*() {
    const context = yield* Layer.build(build(config, start))
    let initial: Initial | undefined
    if (options.captureInitial === true) {
      const optimizer = Context.get(context, Optimizer).state
      initial = {
        params: copyTensors(Context.get(context, Model).params),
        optimizerStep: optimizer.step,
        optimizer: copyTensors(optimizer.tensors)
      }
    }
    const stopAt = options.stopAt
    const events = Context.get(context, Trainer).events
    const collected = yield* Stream.runCollect(
      stopAt === undefined ? events : events.pipe(Stream.takeUntil((e) => e._tag === "Checkpoint" && e.step === stopAt))
    )
    return { events: collected as ReadonlyArray<TrainEvent>, initial }
  })).pipe(Effect.mapError((error) => new ResumeRunFailed({ run, stopAt: options.label, error })))

/** A fresh run in `runDir` that checkpoints at `k` and stops there: the leg before a resume. */
export const trainUntil = (build: RunBuilder, config: RunConfig, runDir: string, k: number) =>
  train(build, checkpointingAt(withRunDir(config, runDir), k), Start.fresh, "interrupted", { stopAt: k, label: k })

/** The work directory, made and removed with the scope unless the caller gave one. */
export const workDirectory = (given: string | undefined) =>
  given !== undefined
    ? Effect.sync(() => {
      nodeFs.mkdirSync(given, { recursive: true })
      return given
    })
    : Effect.acquireRelease(
      Effect.sync(() => nodeFs.mkdtempSync(NodePath.join(os.tmpdir(), "continuum-resume-check-"))),
      (dir) => Effect.sync(() => nodeFs.rmSync(dir, { recursive: true, force: true }))
    )

/** The distinct stop points, in the given order; each must leave steps on both sides. */
export const checkStopPoints = (stopAt: ReadonlyArray<number>, totalSteps: number) =>
  Effect.forEach([...new Set(stopAt)], (k) =>
    Number.isSafeInteger(k) && k >= 1 && k < totalSteps
      ? Effect.succeed(k)
      : Effect.fail(
        new InvalidStopPoint({ stopAt: k, totalSteps, reason: `must be an integer in [1, ${totalSteps - 1}]` })
      ))
