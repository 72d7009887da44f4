import { Context, Effect, Layer, Stream } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { decodeRunConfig } from "../../src/config/loadConfig.ts"
import type { RunConfig } from "../../src/config/RunConfig.ts"
import { Start } from "../../src/config/Start.ts"
import { Model } from "../../src/model/ModelService.ts"
import { Optimizer } from "../../src/optim/OptimizerService.ts"
import type { Tensor } from "../../src/tensor/tensor.ts"
import type { TrainEvent } from "../../src/train/events.ts"
import { runLayer } from "../../src/train/layers.ts"
import { Trainer } from "../../src/train/Trainer.ts"

/** A fresh temporary directory for one test's runs. */
export const tempDir = (prefix = "continuum-test-"): string => fs.mkdtempSync(path.join(os.tmpdir(), prefix))

const merge = (base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> => {
  const out: Record<string, unknown> = { ...base }
  for (const [key, value] of Object.entries(over)) {
    const prior = out[key]
    out[key] = value !== null && typeof value === "object" && !Array.isArray(value) && prior !== null &&
        typeof prior === "object"
      ? merge(prior as Record<string, unknown>, value as Record<string, unknown>)
      : value
  }
  return out
}

/**
 * A small but real run: a 1-layer llama on Moby-Dick, 4 samples of 16 tokens per step, with a
 * checkpoint every 4 steps. Fast enough to train dozens of times in a test file.
 */
export const tinyConfig = (
  runDir: string,
  overrides: Record<string, unknown> = {}
): Effect.Effect<RunConfig, unknown> => decodeRunConfig(tinyConfigJson(runDir, overrides))

/** `tinyConfig` as the JSON a `--config` file holds, for runs of `bin/continuum`. */
export const tinyConfigJson = (runDir: string, overrides: Record<string, unknown> = {}): Record<string, unknown> =>
  merge({
    runDir,
    seed: 7,
    steps: 12,
    model: { kind: "llama", dim: 16, layers: 1, heads: 2, ffnDim: 32, seqLen: 16 },
    batch: { global: 4, micro: 2, dp: 1 },
    schedule: { warmupSteps: 3 },
    eval: { every: 4, batches: 2 },
    checkpoint: { every: 4, keepLatest: 10, async: false }
  }, overrides)

/** The tiny run's model and batch as `--set` values, for tests that run `bin/continuum` without a config file. */
export const TINY_MODEL_SETS: ReadonlyArray<string> = [
  "model.dim=16",
  "model.layers=1",
  "model.heads=2",
  "model.ffnDim=32",
  "model.seqLen=16",
  "batch.global=4",
  "batch.micro=2"
]

export interface RunResult {
  readonly events: ReadonlyArray<TrainEvent>
  readonly params: Record<string, Tensor>
  readonly optimizer: Record<string, Tensor>
}

/** Trains `config` from `start` until the stream ends; returns the events and final state. */
export const trainRun = (
  config: RunConfig,
  start: Layer.Layer<Start, unknown, any> = Start.fresh
): Effect.Effect<RunResult, unknown> =>
  Effect.scoped(Effect.gen(function*() {
    const context = yield* Layer.build(runLayer(config, start))
    const events = yield* Stream.runCollect(Context.get(context, Trainer).events)
    const copy = (m: ReadonlyMap<string, Tensor>) =>
      Object.fromEntries([...m].map(([name, t]) => [name, { shape: [...t.shape], data: t.data.slice() }]))
    return {
      events: [...events],
      params: copy(Context.get(context, Model).params),
      optimizer: copy(Context.get(context, Optimizer).state.tensors)
    }
  }))

export const stepEvents = (events: ReadonlyArray<TrainEvent>) => events.filter((e) => e._tag === "Step")

/** Writes `tinyConfigJson(runDir, overrides)` to `file` for `bin/continuum --config`; returns `file`. */
export const writeTinyConfig = (file: string, runDir: string, overrides: Record<string, unknown> = {}): string => {
  fs.writeFileSync(file, JSON.stringify(tinyConfigJson(runDir, overrides)))
  return file
}
