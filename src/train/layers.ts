import { NodeFileSystem } from "@effect/platform-node"
import { Effect, FileSystem, Layer } from "effect"
import { CheckpointStore, openCheckpointStore } from "../checkpoint/CheckpointStore.ts"
import type { CheckpointIoError, CheckpointStoreUnavailable } from "../checkpoint/errors.ts"
import type { RunConfig } from "../config/RunConfig.ts"
import { RunSettings } from "../config/RunSettings.ts"
import { Start } from "../config/Start.ts"
import { DataLoader } from "../data/DataLoader.ts"
import type { Kernels } from "../kernels/Kernels.ts"
import { kernelsLayerFor } from "../kernels/layers.ts"
import { Model } from "../model/ModelService.ts"
import { Optimizer } from "../optim/OptimizerService.ts"
import { Scheduler } from "../optim/Scheduler.ts"
import type { StartLayer } from "../resume/start.ts"
import { MetricsSink } from "./MetricsSink.ts"
import { type RunDirLocked, type RunLockError, runLockLayer } from "./RunLock.ts"
import { Trainer } from "./Trainer.ts"

/** The data loader a configuration describes. */
export const dataLayerFor = (config: RunConfig) =>
  DataLoader.layer({
    source: config.data.source,
    valFraction: config.data.valFraction,
    seqLen: config.model.seqLen,
    seed: config.seed,
    batch: config.batch
  })

/**
 * Components of a run that code may replace, each with the errors its layer may fail with.
 * Anything left out is built from the configuration: the data from `data.source`, the kernels
 * from `kernels.backend`, the schedule from `schedule` (or from a resume plan), checkpoints under
 * `<runDir>/checkpoints` (or `checkpoint.location`), the lock on `<runDir>/.lock`.
 */
export interface RunParts<
  EStart = never,
  EData = never,
  EKernels = never,
  ESchedule = never,
  ECheckpoints = never,
  EMetrics = never,
  ELock = never
> {
  readonly start?: StartLayer<EStart>
  readonly data?: Layer.Layer<DataLoader, EData, FileSystem.FileSystem>
  readonly kernels?: Layer.Layer<Kernels, EKernels>
  readonly scheduler?: Layer.Layer<Scheduler, ESchedule, RunSettings | Start>
  readonly checkpoints?: Layer.Layer<CheckpointStore, ECheckpoints, FileSystem.FileSystem>
  readonly metrics?: Layer.Layer<MetricsSink, EMetrics, FileSystem.FileSystem>
  /**
   * Who else may write into the run directory meanwhile: by default nobody (`runLockLayer`).
   * A run kept wholly in memory (store and metrics) passes `noRunLock`, as it writes nothing there.
   */
  readonly lock?: Layer.Layer<never, ELock>
}

/** For a run that writes nothing into its run directory: no lock is taken. */
export const noRunLock: Layer.Layer<never> = Layer.empty

/** The part given, or else the default one: a layer that may fail as either. */
const orDefault = <A, E1, R1, E2, R2>(
  part: Layer.Layer<A, E1, R1> | undefined,
  fallback: () => Layer.Layer<A, E2, R2>
): Layer.Layer<A, E1 | E2, R1 | R2> => part ?? fallback()

/** Settings, data, checkpoints and the start (fresh or planned) — everything before the model. */
export const runStartLayer = <EStart = never, EData = never, ECheckpoints = never>(
  config: RunConfig,
  start: StartLayer<EStart> = Start.fresh,
  parts: RunParts<unknown, EData, unknown, unknown, ECheckpoints, unknown, unknown> = {}
) =>
  start.pipe(
    Layer.provideMerge(Layer.mergeAll(
      RunSettings.layer(config),
      orDefault(parts.data, () => dataLayerFor(config)),
      orDefault(parts.checkpoints, () => checkpointsLayerFor(config))
    )),
    Layer.provideMerge(NodeFileSystem.layer)
  )

/**
 * The checkpoints a configuration names: in the bucket of `checkpoint.location` when set, else
 * under `<runDir>/checkpoints`.
 */
export const checkpointsLayerFor = (
  config: RunConfig
): Layer.Layer<CheckpointStore, CheckpointStoreUnavailable | CheckpointIoError, FileSystem.FileSystem> =>
  config.checkpoint.location === undefined
    ? CheckpointStore.layerFileSystem(config.runDir)
    : CheckpointStore.layerObjectStore(config.checkpoint.location)

/**
 * The run's checkpoints opened for reading only: leftovers of interrupted saves are not cleaned,
 * since they may be the save in progress of a run training in the same directory right now.
 */
export const readOnlyCheckpoints = (
  runDir: string,
  location?: string
): Layer.Layer<CheckpointStore, CheckpointStoreUnavailable | CheckpointIoError, FileSystem.FileSystem> =>
  Layer.effect(CheckpointStore, openCheckpointStore(runDir, location, { cleanOnStart: false }))

/**
 * The start of a run as `train` would plan it, for commands that only print or check the plan:
 * no lock is taken and nothing in the run directory is written or cleaned.
 */
export const plannedOnlyLayer = <EStart = never>(config: RunConfig, start: StartLayer<EStart>) =>
  runStartLayer(config, start, { checkpoints: readOnlyCheckpoints(config.runDir, config.checkpoint.location) })

/**
 * A complete run: one layer per component, composed. Model, optimizer and scheduler read the
 * settings and the start; the trainer consumes them all. The run holds `<runDir>/.lock` for its
 * whole life (RunLock.ts): a second run on the same directory is refused before it touches it.
 */
export const composeRun = <
  EStart = never,
  EData = never,
  EKernels = never,
  ESchedule = never,
  ECheckpoints = never,
  EMetrics = never,
  ELock = RunDirLocked | RunLockError
>(
  config: RunConfig,
  parts: RunParts<EStart, EData, EKernels, ESchedule, ECheckpoints, EMetrics, ELock> = {}
) =>
  Trainer.layer.pipe(
    Layer.provideMerge(
      Layer.provideMerge(
        Optimizer.layer,
        Layer.mergeAll(Model.layer, orDefault(parts.scheduler, () => Scheduler.layer))
      )
    ),
    Layer.provideMerge(orDefault(parts.kernels, () => kernelsLayerFor(config.kernels))),
    Layer.provideMerge(orDefault(parts.metrics, () => MetricsSink.layerFileSystem(config.runDir))),
    Layer.provideMerge(runStartLayer(config, parts.start ?? Start.fresh, parts)),
    // Built first and released last: nothing in the run directory — the store's cleanup of
    // interrupted saves, the metrics history, retention — is touched without the lock.
    Layer.provide(orDefault(parts.lock, () => runLockLayer(config.runDir)))
  )

/** A complete run on the local file system, from the given start (fresh or planned). */
export const runLayer = <EStart = never>(config: RunConfig, start: StartLayer<EStart> = Start.fresh) =>
  composeRun(config, { start })
