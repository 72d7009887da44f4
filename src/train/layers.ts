import { NodeFileSystem } from "@effect/platform-node"
import { type FileSystem, Layer } from "effect"
import { CheckpointStore } from "../checkpoint/CheckpointStore.ts"
import type { RunConfig } from "../config/RunConfig.ts"
import { RunSettings } from "../config/RunSettings.ts"
import { DataLoader } from "../data/DataLoader.ts"
import type { Kernels } from "../kernels/Kernels.ts"
import { kernelsLayerFor } from "../kernels/layers.ts"
import { Model } from "../model/ModelService.ts"
import { Optimizer } from "../optim/OptimizerService.ts"
import { Scheduler } from "../optim/Scheduler.ts"
import { Start } from "../config/Start.ts"
import { MetricsSink } from "./MetricsSink.ts"
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

type StartLayer = Layer.Layer<Start, unknown, RunSettings | DataLoader | CheckpointStore | FileSystem.FileSystem>

/**
 * Components of a run that code may replace. Anything left out is built from the configuration:
 * the data from `data.source`, the kernels from `kernels.backend`, the schedule from `schedule`
 * (or from a resume plan), checkpoints under `<runDir>/checkpoints`.
 */
export interface RunParts {
  readonly start?: StartLayer
  readonly data?: Layer.Layer<DataLoader, unknown, FileSystem.FileSystem>
  readonly kernels?: Layer.Layer<Kernels, unknown>
  readonly scheduler?: Layer.Layer<Scheduler, unknown, RunSettings | Start>
  readonly checkpoints?: Layer.Layer<CheckpointStore, unknown, FileSystem.FileSystem>
  readonly metrics?: Layer.Layer<MetricsSink, unknown, FileSystem.FileSystem>
}

/** Settings, data, checkpoints and the start (fresh or planned) — everything before the model. */
export const runStartLayer = (config: RunConfig, start: StartLayer = Start.fresh, parts: RunParts = {}) =>
  start.pipe(
    Layer.provideMerge(Layer.mergeAll(
      RunSettings.layer(config),
      parts.data ?? dataLayerFor(config),
      parts.checkpoints ?? CheckpointStore.layerFileSystem(config.runDir)
    )),
    Layer.provideMerge(NodeFileSystem.layer)
  )

/**
 * A complete run: one layer per component, composed. Model, optimizer and scheduler read the
 * settings and the start; the trainer consumes them all.
 */
export const composeRun = (config: RunConfig, parts: RunParts = {}) =>
  Trainer.layer.pipe(
    Layer.provideMerge(Layer.provideMerge(Optimizer.layer, Layer.mergeAll(Model.layer, parts.scheduler ?? Scheduler.layer))),
    Layer.provideMerge(parts.kernels ?? kernelsLayerFor(config.kernels)),
    Layer.provideMerge(parts.metrics ?? MetricsSink.layerFileSystem(config.runDir)),
    Layer.provideMerge(runStartLayer(config, parts.start ?? Start.fresh, parts))
  )

/** A complete run on the local file system, from the given start (fresh or planned). */
export const runLayer = (config: RunConfig, start: StartLayer = Start.fresh) => composeRun(config, { start })
