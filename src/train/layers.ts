import { NodeFileSystem } from "@effect/platform-node"
import { Layer } from "effect"
import { CheckpointStore } from "../checkpoint/CheckpointStore.ts"
import type { RunConfig } from "../config/RunConfig.ts"
import { RunSettings } from "../config/RunSettings.ts"
import { DataLoader } from "../data/DataLoader.ts"
import { cpuKernelsLayer } from "../kernels/layers.ts"
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

/** A complete run on the local file system, from the given start (fresh or planned). */
export const runLayer = (
  config: RunConfig,
  start: Layer.Layer<Start, unknown, RunSettings | DataLoader | CheckpointStore> = Start.fresh
) => {
  const settings = RunSettings.layer(config)
  const base = Layer.mergeAll(
    settings,
    cpuKernelsLayer,
    dataLayerFor(config),
    CheckpointStore.layerFileSystem(config.runDir)
  )
  return Trainer.layer.pipe(
    Layer.provideMerge(componentsLayer),
    Layer.provideMerge(start),
    Layer.provideMerge(base),
    Layer.provide(NodeFileSystem.layer)
  )
}
