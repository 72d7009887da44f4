/**
 * Transfer (fine-tuning) from exported weights, end to end: a trained run's weights exported to a
 * .safetensors file, then a new run started from that file with `presets.transfer` — weights
 * loaded, a fresh optimizer, step 0, the schedule restarted, the data read from sample 0 — and a
 * subset load that leaves an excluded tensor at its fresh initialization.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Layer, Result, Schema, Stream } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { CheckpointState } from "../../src/checkpoint/checkpointState.ts"
import { exportWeights } from "../../src/checkpoint/export.ts"
import type { RunConfig } from "../../src/config/RunConfig.ts"
import { Start } from "../../src/config/Start.ts"
import { modelFromConfig } from "../../src/model/fromConfig.ts"
import { Model } from "../../src/model/ModelService.ts"
import { Optimizer } from "../../src/optim/OptimizerService.ts"
import { lr, resolveSchedule } from "../../src/optim/schedule.ts"
import { AcceptedPlan, plannedStartLayer } from "../../src/resume/plannedStart.ts"
import { presets, type ResumePolicy } from "../../src/resume/policy.ts"
import type { Tensor } from "../../src/tensor/tensor.ts"
import { runLayer } from "../../src/train/layers.ts"
import { Trainer } from "../../src/train/Trainer.ts"
import { stepEvents, tempDir, tinyConfig, trainRun } from "../support/tinyRun.ts"

/** A trained tiny run's weights, exported as F32 safetensors next to it. */
const exportedWeights = Effect.gen(function*() {
  const dir = tempDir()
  const trained = yield* trainRun(yield* tinyConfig(path.join(dir, "pretrain")))
  const bytes = Result.getOrThrow(exportWeights(trained.params, "f32"))
  const file = path.join(dir, "pretrained.safetensors")
  fs.writeFileSync(file, bytes)
  return { dir, file, weights: trained.params }
})

/** The fine-tuning run: another seed, fewer steps, a lower peak LR. */
const tuneConfig = (runDir: string) => tinyConfig(runDir, { seed: 11, steps: 6, optimizer: { lr: 0.001 } })

const copy = (tensors: ReadonlyMap<string, Tensor>) =>
  Object.fromEntries([...tensors].map(([name, t]) => [name, { shape: [...t.shape], data: t.data.slice() }]))

/** Builds a run, records the state before any step, trains `steps` updates (all when undefined). */
const runFrom = (config: RunConfig, start: Layer.Layer<Start, unknown, any>, steps?: number) =>
  Effect.scoped(Effect.gen(function*() {
    const context = yield* Layer.build(runLayer(config, start))
    const optimizer = Context.get(context, Optimizer)
    const params = Context.get(context, Model).params
    const initial = {
      start: Context.get(context, Start),
      plan: Context.get(context, AcceptedPlan),
      params: copy(params),
      optimizerStep: optimizer.state.step,
      moments: copy(optimizer.state.tensors)
    }
    const events = Context.get(context, Trainer).events
    const collected = yield* Stream.runCollect(
      steps === undefined ? events : events.pipe(Stream.takeUntil((e) => e._tag === "Step" && e.step === steps))
    )
    return {
      initial,
      events: collected,
      params: copy(params),
      optimizerStep: optimizer.state.step,
      moments: copy(optimizer.state.tensors)
    }
  }))

/** A fresh run (step 0, fresh optimizer, configured schedule) whose weights are given. */
const freshWithWeights = (weights: Record<string, Tensor>) =>
  Layer.effect(
    Start,
    Effect.gen(function*() {
      const fresh = yield* Start
      return { ...fresh, modelTensors: weights }
    })
  ).pipe(Layer.provide(Start.fresh))

const assertTensorsEqual = (actual: Record<string, Tensor>, expected: Record<string, Tensor>, what: string) => {
  assert.deepStrictEqual(Object.keys(actual).sort(), Object.keys(expected).sort(), what)
  for (const name of Object.keys(expected)) {
    assert.deepStrictEqual(actual[name]!.shape, expected[name]!.shape, `${what}: ${name} shape`)
    assert.deepStrictEqual(actual[name]!.data, expected[name]!.data, `${what}: ${name}`)
  }
}

const allZero = (tensors: Record<string, Tensor>) => Object.values(tensors).every((t) => t.data.every((x) => x === 0))

describe("transfer from an exported weights file", () => {
  it.effect("starts at step 0 with the file's weights, a fresh optimizer, a restarted schedule and data from sample 0", () =>
    Effect.gen(function*() {
      const { dir, file, weights } = yield* exportedWeights
      const config = yield* tuneConfig(path.join(dir, "tuned"))
      const tuned = yield* runFrom(config, plannedStartLayer(presets.transfer, file))

      const { start } = tuned.initial
      assert.deepInclude(start, { step: 0, cursor: 0, tokensSeen: 0, parent: undefined })
      assert.deepInclude(tuned.initial.plan!.source, { kind: "weights", file })
      assert.strictEqual(tuned.initial.plan!.schedule.action, "restart")
      assertTensorsEqual(tuned.initial.params, weights, "weights before the first step")
      assert.strictEqual(tuned.initial.optimizerStep, 0)
      assert.isTrue(allZero(tuned.initial.moments), "the moments start at zero")

      const steps = stepEvents(tuned.events)
      assert.deepStrictEqual(steps.map((e) => e.step), [1, 2, 3, 4, 5, 6])
      const schedule = resolveSchedule(config.schedule, config.optimizer.lr, config.steps)
      assert.deepStrictEqual(steps.map((e) => e.lr), [0, 1, 2, 3, 4, 5].map((t) => lr(schedule, t)))
      assert.strictEqual(tuned.optimizerStep, 6)

      const manifest = JSON.parse(
        fs.readFileSync(path.join(config.runDir, "checkpoints", "step-00000006", "manifest.json"), "utf8")
      ) as {
        state: unknown
        parent?: unknown
      }
      const state = Schema.decodeUnknownSync(CheckpointState)(manifest.state)
      assert.deepInclude(state, { step: 6, samplesSeen: 24 })
      assert.strictEqual(state.data.cursor, 6 * config.batch.global, "the data was read from sample 0")

      // The same as a fresh run (fresh AdamW, the configured schedule) handed those weights.
      const reference = yield* runFrom(yield* tuneConfig(path.join(dir, "reference")), freshWithWeights(weights))
      assert.deepStrictEqual(
        stepEvents(tuned.events).map(({ loss, lr, gradNorm, tokens }) => [loss, lr, gradNorm, tokens]),
        stepEvents(reference.events).map(({ loss, lr, gradNorm, tokens }) => [loss, lr, gradNorm, tokens])
      )
      assertTensorsEqual(tuned.params, reference.params, "weights after fine-tuning")
      assertTensorsEqual(tuned.moments, reference.moments, "moments after fine-tuning")
    }))

  it.effect("after one update the moments are those of a first AdamW step: v / m² = (1 − β₂) / (1 − β₁)²", () =>
    Effect.gen(function*() {
      const { dir, file } = yield* exportedWeights
      const config = yield* tuneConfig(path.join(dir, "tuned"))
      const one = yield* runFrom(config, plannedStartLayer(presets.transfer, file), 1)
      assert.strictEqual(one.optimizerStep, 1)
      const [beta1, beta2] = config.optimizer.betas
      const ratio = (1 - beta2) / (1 - beta1) ** 2
      let checked = 0
      for (const [name, m] of Object.entries(one.moments)) {
        if (!name.startsWith("exp_avg.")) continue
        const v = one.moments[name.replace("exp_avg.", "exp_avg_sq.")]!
        for (let i = 0; i < m.data.length; i++) {
          if (Math.abs(m.data[i]!) < 1e-6) continue
          const r = v.data[i]! / (m.data[i]! * m.data[i]!)
          assert.approximately(r, ratio, ratio * 1e-3, `${name}[${i}]`)
          checked++
        }
      }
      assert.isAbove(checked, 1000)
    }))

  it.effect("a subset load leaves output.weight at the new run's fresh initialization and loads all else", () =>
    Effect.gen(function*() {
      const { dir, file, weights } = yield* exportedWeights
      const config = yield* tuneConfig(path.join(dir, "tuned"))
      const policy: ResumePolicy = { ...presets.transfer, tensors: { exclude: ["output.weight"] } }
      const tuned = yield* runFrom(config, plannedStartLayer(policy, file), 1)
      const fresh = modelFromConfig(config.model).init(config.seed)

      assert.deepStrictEqual(tuned.initial.plan!.model.init, ["output.weight"])
      assert.notDeepEqual(weights["output.weight"]!.data, fresh.get("output.weight")!.data, "trained and fresh differ")
      assert.deepStrictEqual(tuned.initial.params["output.weight"]!.data, fresh.get("output.weight")!.data)
      const { "output.weight": _excluded, ...loaded } = weights
      const { "output.weight": _fresh, ...rest } = tuned.initial.params
      assertTensorsEqual(rest, loaded, "every other tensor")
      assert.isTrue(allZero(tuned.initial.moments))
    }))
})
