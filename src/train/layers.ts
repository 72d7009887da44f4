import { NodeFileSystem } from "@effect/platform-node"
import { type FileSystem, Layer } from "effect"
import { CheckpointStore } from "../checkpoint/CheckpointStore.ts"
import type { RunConfig } from "../config/RunConfig.ts"
import { RunSettings } from "../config/RunSettings.ts"
import { DataLoader } from "../data/DataLoader.ts"
import { kernelsLayerFor } from "../kernels/layers.ts"
import { Model } from "../model/ModelService.ts"
import { Optimizer } from "../optim/OptimizerService.ts"
import { Scheduler } from "../optim/Scheduler.ts"
import { Start } from "./Start.ts"
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
 * The components of a run, each its own layer so that any one can be swapped: model, optimizer
 * and scheduler read the run settings and the start state; the trainer consumes them all.
 */
export const componentsLayer = Layer.provideMerge(
  Optimizer.layer,
  Layer.mergeAll(Model.layer, Scheduler.layer)
)

type StartLayer = Layer.Layer<Start, unknown, RunSettings | DataLoader | CheckpointStore | FileSystem.FileSystem>

/** Settings, data, checkpoints and the start (fresh or planned) — everything before the model. */
export const runStartLayer = (config: RunConfig, start: StartLayer = Start.fresh) =>
  start.pipe(
    Layer.provideMerge(Layer.mergeAll(RunSettings.layer(config), dataLayerFor(config), CheckpointStore.layerFileSystem(config.runDir))),
    Layer.provideMerge(NodeFileSystem.layer)
  )

/** A complete run on the local file system, from the given start (fresh or planned). */
export const runLayer = (config: RunConfig, start: StartLayer = Start.fresh) =>
  Trainer.layer.pipe(
    Layer.provideMerge(componentsLayer),
    Layer.provideMerge(kernelsLayerFor(config.kernels)),
    Layer.provideMerge(runStartLayer(config, start))
  )
