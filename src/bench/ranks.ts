/**
 * What real ranks buy: the same training update — same model, same (B, μ), hence the same numbers
 * bit for bit — computed by the single-thread stepper and by P worker-thread ranks, taking turns
 * step by step, each timed as the median of its steps. Reports tokens/s and the speed-up over one rank, the cost of the rank
 * protocol (one rank against the single thread: messages, barriers, the token copy), the memory
 * of the gradient slots, and where each rank's time went (compute, reduce, waiting, update) — what
 * limits the speed-up.
 *
 *   continuum bench ranks [--size=default|mid-t128] [--ranks=1,2,auto] [--steps=N]
 */
import { NodeFileSystem } from "@effect/platform-node"
import { Context, Effect, Layer } from "effect"
import * as os from "node:os"
import { decodeRunConfig } from "../config/loadConfig.ts"
import type { RunConfig } from "../config/RunConfig.ts"
import { RunSettings } from "../config/RunSettings.ts"
import { Start } from "../config/Start.ts"
import { DataLoader } from "../data/DataLoader.ts"
import { makeCpuKernels } from "../kernels/cpu/index.ts"
import { makeWasmStorage } from "../kernels/cpu/wasm/storage.ts"
import { Model } from "../model/ModelService.ts"
import { Optimizer } from "../optim/OptimizerService.ts"
import { startRanks } from "../ranks/Ranks.ts"
import type { RankPhases } from "../ranks/rankStep.ts"
import type { OnProgress } from "../tensor/progress.ts"
import { dataLayerFor } from "../train/layers.ts"
import { makeStepper } from "../train/stepper.ts"
import { type ModelSize, modelSizes } from "./sizes.ts"
import { median } from "./timing.ts"

export type RanksSetting = number | "auto"

export interface RanksBenchOptions {
  readonly size: ModelSize
  readonly ranks: ReadonlyArray<RanksSetting>
  readonly steps: number
  readonly warmup: number
  /** Told before each step round. */
  readonly onProgress?: OnProgress | undefined
}

export interface RanksRow {
  /** As asked for: a number or `auto`. */
  readonly setting: string
  /** P, the ranks that ran. */
  readonly ranks: number
  readonly msPerStep: number
  readonly tokensPerSec: number
  /** Time per step of one rank over this one. */
  readonly speedup: number
  /** The gradient slots and the step gradient, (P + 1) × the parameter bytes. */
  readonly gradientBytes: number
  /** Median over steps of each phase, for the rank that spent longest computing. */
  readonly phases: RankPhases
}

export interface RanksBench {
  readonly size: ModelSize
  readonly global: number
  readonly micro: number
  readonly cores: number
  /** The single-thread stepper, same update. */
  readonly singleThreadMs: number
  /** One rank's step minus the single thread's: what the protocol costs per step. */
  readonly protocolMs: number
  readonly rows: ReadonlyArray<RanksRow>
}

const BATCH = { global: 16, micro: 4 }

const configFor = (size: ModelSize, dp: RanksSetting) =>
  decodeRunConfig({ model: modelSizes[size], batch: { ...BATCH, dp } })

/** A fresh model, optimizer state and data loader of `config`, in the caller's scope. */
const partsOf = (config: RunConfig) =>
  Effect.map(
    Layer.build(
      Optimizer.layer.pipe(
        Layer.provideMerge(Model.layer),
        Layer.merge(dataLayerFor(config)),
        Layer.provide(Layer.merge(RunSettings.layer(config), Start.fresh)),
        Layer.provide(NodeFileSystem.layer)
      )
    ),
    (context) => ({
      ...Context.get(context, Model),
      optimizer: Context.get(context, Optimizer),
      data: Context.get(context, DataLoader)
    })
  )

const LR = 1e-3

const medianPhases = (phases: ReadonlyArray<RankPhases>): RankPhases => ({
  compute: median(phases.map((p) => p.compute)),
  reduce: median(phases.map((p) => p.reduce)),
  wait: median(phases.map((p) => p.wait)),
  update: median(phases.map((p) => p.update))
})

/** One way to compute the update, ready to time step by step. */
interface Runner {
  readonly setting: string
  readonly ranks: number
  readonly gradientBytes: number
  readonly step: (s: number) => Effect.Effect<void, unknown>
  readonly phases: () => RankPhases | undefined
}

const singleThreadRunner = (size: ModelSize) =>
  Effect.gen(function*() {
    const config = yield* configFor(size, 1)
    const { model, params, optimizer, data } = yield* partsOf(config)
    const stepper = makeStepper({
      kernels: makeCpuKernels(),
      model,
      params,
      data,
      rule: optimizer.rule,
      optimizer: optimizer.state,
      clipNorm: config.optimizer.clipNorm
    })
    return {
      setting: "single thread",
      ranks: 0,
      gradientBytes: 0,
      step: (s) => Effect.sync(() => stepper(s * data.geometry.global, LR)),
      phases: () => undefined
    } satisfies Runner
  })

const ranksRunner = (size: ModelSize, setting: RanksSetting) =>
  Effect.gen(function*() {
    const config = yield* configFor(size, setting)
    const { params, optimizer, data } = yield* partsOf(config)
    const storage = makeWasmStorage()
    const ranks = yield* startRanks({ config, data, params, optimizer: optimizer.state, storage })
    return {
      setting: String(setting),
      ranks: ranks.count,
      gradientBytes: ranks.gradientBytes,
      step: (s) => ranks.step(s * data.geometry.global, LR, s + 1),
      // The rank that computed longest: the one the others waited for.
      phases: () => ranks.lastPhases().reduce((a, b) => (b.compute > a.compute ? b : a))
    } satisfies Runner
  })

/**
 * Every way of computing the update is built first, then they take turns step by step, so that a
 * change in the machine's load meets them all alike.
 */
export const runRanksBench = (options: RanksBenchOptions) =>
  Effect.scoped(Effect.gen(function*() {
    options.onProgress?.({ task: "bench ranks", done: 0, total: 1, unit: "items", detail: "starting ranks" })
    const runners = [
      yield* singleThreadRunner(options.size),
      ...yield* Effect.forEach(options.ranks, (setting) => ranksRunner(options.size, setting))
    ]
    const times = runners.map((): Array<number> => [])
    const phases = runners.map((): Array<RankPhases> => [])
    const total = options.warmup + options.steps
    for (let s = 0; s < total; s++) {
      options.onProgress?.({ task: "bench ranks", done: s, total, unit: "steps" })
      for (const [i, runner] of runners.entries()) {
        const began = performance.now()
        yield* runner.step(s)
        if (s < options.warmup) continue
        times[i]!.push(performance.now() - began)
        const p = runner.phases()
        if (p !== undefined) phases[i]!.push(p)
      }
    }
    options.onProgress?.({ task: "bench ranks", done: total, total, unit: "steps" })
    const ms = times.map(median)
    const one = runners.findIndex((r) => r.ranks === 1)
    const { batch, model } = yield* configFor(options.size, 1)
    const tokens = batch.global * model.seqLen
    return {
      size: options.size,
      global: batch.global,
      micro: batch.micro,
      cores: os.availableParallelism(),
      singleThreadMs: ms[0]!,
      protocolMs: one < 0 ? Number.NaN : ms[one]! - ms[0]!,
      rows: runners.slice(1).map((runner, k) => ({
        setting: runner.setting,
        ranks: runner.ranks,
        msPerStep: ms[k + 1]!,
        tokensPerSec: tokens / (ms[k + 1]! / 1000),
        speedup: one < 0 ? Number.NaN : ms[one]! / ms[k + 1]!,
        gradientBytes: runner.gradientBytes,
        phases: medianPhases(phases[k + 1]!)
      }))
    } satisfies RanksBench
  }))

const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(2)} MiB`

export const formatRanksBench = (bench: RanksBench): string =>
  [
    `ranks on ${bench.cores} cores, model ${bench.size}, B = ${bench.global}, μ = ${bench.micro} ` +
    `(${bench.global / bench.micro} micro-batches), median of the timed steps:`,
    `  single thread        ${bench.singleThreadMs.toFixed(1).padStart(8)} ms/step`,
    ...bench.rows.map((r) =>
      `  ranks ${r.setting.padEnd(5)} P = ${String(r.ranks).padEnd(3)} ${r.msPerStep.toFixed(1).padStart(8)} ms/step ${
        Math.round(r.tokensPerSec).toString().padStart(8)
      } tokens/s  ${r.speedup.toFixed(2)}×  gradient slots ${mib(r.gradientBytes)}  ` +
      `busiest rank: compute ${r.phases.compute.toFixed(1)} · reduce ${r.phases.reduce.toFixed(1)} · wait ${
        r.phases.wait.toFixed(1)
      } · update ${r.phases.update.toFixed(1)} ms`
    ),
    `  rank protocol: ${bench.protocolMs.toFixed(2)} ms/step (one rank against the single thread)`
  ].join("\n")
