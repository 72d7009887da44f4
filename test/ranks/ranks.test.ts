/**
 * Real ranks — worker threads over shared memory — against the law: the update is the one the
 * single-thread stepper computes (the sum of the micro-batch gradients in order of j), bit for bit,
 * for any number of ranks, including more ranks than cores and ranks that do not divide the
 * micro-batches.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import * as os from "node:os"
import { Start } from "../../src/config/Start.ts"
import { DataLoader } from "../../src/data/DataLoader.ts"
import { Kernels } from "../../src/kernels/Kernels.ts"
import { Model } from "../../src/model/ModelService.ts"
import { Optimizer } from "../../src/optim/OptimizerService.ts"
import { Scheduler } from "../../src/optim/Scheduler.ts"
import type { StepOutcome } from "../../src/ranks/outcome.ts"
import type { Tensor } from "../../src/tensor/tensor.ts"
import { runLayer } from "../../src/train/layers.ts"
import { makeStepper } from "../../src/train/stepper.ts"
import { assertSameTensors } from "../support/compare.ts"
import { stepEvents, tempDir, tinyConfig, trainRun } from "../support/tinyRun.ts"

const STEPS = 6
/** Eight micro-batches of 2 samples a step. */
const batch = (dp: number | "auto") => ({ global: 16, micro: 2, dp })

const copy = (m: ReadonlyMap<string, Tensor>) =>
  Object.fromEntries([...m].map(([name, t]) => [name, { shape: [...t.shape], data: t.data.slice() }]))

/** STEPS updates of the single-thread stepper, on the run's own model, data and optimizer. */
const singleThread = Effect.scoped(Effect.gen(function*() {
  const config = yield* tinyConfig(tempDir(), { batch: batch(1), steps: STEPS })
  const context = yield* Layer.build(runLayer(config, Start.fresh))
  const { model, params } = Context.get(context, Model)
  const optimizer = Context.get(context, Optimizer)
  const data = Context.get(context, DataLoader)
  const scheduler = Context.get(context, Scheduler)
  const stepper = makeStepper({
    kernels: Context.get(context, Kernels),
    model,
    params,
    data,
    rule: optimizer.rule,
    optimizer: optimizer.state,
    clipNorm: config.optimizer.clipNorm
  })
  const outcomes: Array<StepOutcome> = []
  for (let step = 0; step < STEPS; step++) outcomes.push(stepper(step * data.geometry.global, scheduler.lr(step)))
  return { outcomes, params: copy(params), optimizer: copy(optimizer.state.tensors) }
}))

describe("real ranks", () => {
  it.effect("compute the single-thread update bit for bit for P = 1, 2, 3, 4 and 8", () =>
    Effect.gen(function*() {
      const reference = yield* singleThread
      assert.isTrue(reference.outcomes.every((o) => o._tag === "Updated"))
      // 8 ranks on this machine's cores is more ranks than cores; 3 leaves two ranks one short.
      assert.isAbove(8, os.availableParallelism())
      for (const dp of [1, 2, 3, 4, 8]) {
        const config = yield* tinyConfig(tempDir(), { batch: batch(dp), steps: STEPS })
        const run = yield* trainRun(config)
        const steps = stepEvents(run.events)
        assert.deepStrictEqual(steps.map((e) => e.ranks), Array(STEPS).fill(dp))
        assert.deepStrictEqual(
          steps.map((e) => [e.loss, e.gradNorm]),
          reference.outcomes.map((o) => (o._tag === "Updated" ? [o.loss, o.gradNorm] : [])),
          `P = ${dp}`
        )
        assertSameTensors(run.params, reference.params, `model, P = ${dp}`)
        assertSameTensors(run.optimizer, reference.optimizer, `optimizer, P = ${dp}`)
      }
    }), 120_000)

  it.effect("auto takes one rank per core, at most one per micro-batch", () =>
    Effect.gen(function*() {
      const config = yield* tinyConfig(tempDir(), { batch: batch("auto"), steps: 4 })
      const run = yield* trainRun(config)
      assert.strictEqual(stepEvents(run.events)[0]!.ranks, Math.min(os.availableParallelism(), 8))
    }), 60_000)
})
