/**
 * `bench step --profile`: the time of a step per kernel family and per part of the model, through
 * a timing wrapper of the cpu kernels that changes no number.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Layer, Stream } from "effect"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { type KernelMethod, profiledCpuKernelsLayer, profiledKernels } from "../../src/bench/profiledKernels.ts"
import { prepareReferenceStep } from "../../src/bench/step.ts"
import { StepAttributor } from "../../src/bench/stepAttribution.ts"
import { runStepProfile, type StepProfile } from "../../src/bench/stepProfile.ts"
import { makeCpuKernels } from "../../src/kernels/cpu/index.ts"
import type { LlamaConfig } from "../../src/model/model.ts"
import { Model } from "../../src/model/ModelService.ts"
import { composeRun } from "../../src/train/layers.ts"
import { Trainer } from "../../src/train/Trainer.ts"
import { repoRoot } from "../support/processes.ts"
import { stepEvents, tempDir, tinyConfig, trainRun } from "../support/tinyRun.ts"

const tiny: LlamaConfig = {
  vocabSize: 32,
  dim: 16,
  layers: 3,
  heads: 2,
  ffnDim: 24,
  seqLen: 8,
  normEps: 1e-5,
  ropeTheta: 10000
}

const sum = (xs: ReadonlyArray<number>) => xs.reduce((a, b) => a + b, 0)

/** What every profile must satisfy, whatever the model. */
const assertConsistent = (p: StepProfile) => {
  const kernelFamilies = p.families.filter((r) => r.family !== "outside kernels")
  assert.isAtMost(sum(kernelFamilies.map((r) => r.ms)), p.msPerStep)
  assert.closeTo(sum(kernelFamilies.map((r) => r.ms)), p.msInKernels, 1e-9)
  const outside = p.families.find((r) => r.family === "outside kernels")
  assert.isDefined(outside)
  assert.isAtLeast(outside!.ms, 0)
  for (const family of ["matmul", "attention", "attentionBackward"]) {
    const row = p.families.find((r) => r.family === family)
    assert.isDefined(row, `no ${family} row`)
    assert.isAbove(row!.calls, 0)
  }
  assert.closeTo(sum(p.methods.map((r) => r.ms)), p.msInKernels, 1e-9)
  // The parts split the same kernel time and the same calls as the families.
  const parts = p.parts.filter((r) => r.part !== "outside kernels")
  assert.closeTo(sum(parts.map((r) => r.ms)), p.msInKernels, 1e-9)
  assert.strictEqual(sum(parts.map((r) => r.calls)), sum(kernelFamilies.map((r) => r.calls)))
}

describe("bench step --profile", () => {
  it("adds up: families and parts share the step's kernel time, within the step's time", () => {
    const p = runStepProfile({ model: tiny, steps: 3, warmup: 1 })
    assertConsistent(p)
    assert.strictEqual(p.steps, 3)
    assert.deepStrictEqual(p.parts.map((r) => r.part), [
      "embedding",
      "layer 0",
      "layer 1",
      "layer 2",
      "head",
      "loss",
      "optimizer",
      "outside kernels"
    ])
    // The layers are alike, so each makes the same calls, in the forward and the backward pass.
    const layers = p.parts.filter((r) => r.part.startsWith("layer "))
    for (const layer of layers) {
      assert.strictEqual(layer.calls, layers[0]!.calls)
      assert.isAbove(layer.forwardMs, 0)
      assert.isAbove(layer.backwardMs, 0)
      assert.strictEqual(layer.updateMs, 0)
    }
    const optimizer = p.parts.find((r) => r.part === "optimizer")!
    assert.strictEqual(optimizer.forwardMs + optimizer.backwardMs, 0)
    assert.isAbove(optimizer.updateMs, 0)
  })

  it("changes no number: the profiled step leaves the same parameters, bit for bit", () => {
    const plain = prepareReferenceStep(tiny)
    const profiled = prepareReferenceStep(tiny)
    const kernels = profiledKernels(makeCpuKernels(), () => {})
    const cpu = makeCpuKernels()
    for (let i = 0; i < 2; i++) {
      assert.strictEqual(profiled.forwardBackward(kernels), plain.forwardBackward(cpu))
      profiled.clipAndUpdate(kernels)
      plain.clipAndUpdate(cpu)
    }
    for (const [name, tensor] of plain.params) {
      assert.deepStrictEqual(profiled.params.get(name)!.data, tensor.data, name)
    }
  })

  it.effect("goes into a training run as its kernels part, and the run's losses and weights stay the same", () =>
    Effect.gen(function*() {
      const plain = yield* trainRun(yield* tinyConfig(tempDir()))
      const calls = new Map<KernelMethod, number>()
      const kernels = profiledCpuKernelsLayer((method) => calls.set(method, (calls.get(method) ?? 0) + 1))
      const profiled = yield* Effect.scoped(Effect.gen(function*() {
        const context = yield* Layer.build(composeRun(yield* tinyConfig(tempDir()), { kernels }))
        const events = yield* Stream.runCollect(Context.get(context, Trainer).events)
        return { events: [...events], params: Context.get(context, Model).params }
      }))
      const losses = (events: Parameters<typeof stepEvents>[0]) => stepEvents(events).map((e) => e.loss)
      assert.deepStrictEqual(losses(profiled.events), losses(plain.events))
      assert.strictEqual(losses(plain.events).length, 12)
      for (const [name, tensor] of profiled.params) assert.deepStrictEqual(tensor.data, plain.params[name]!.data, name)
      for (const method of ["matmul", "attention", "attentionBackward", "adamw"] as const) {
        assert.isAbove(calls.get(method) ?? 0, 0, method)
      }
    }))

  it("gives a call that touches no parameter to its neighbour: before it going forward, after it going back", () => {
    const w0 = new Float32Array(1)
    const w1 = new Float32Array(1)
    const activation = new Float32Array(1)
    const attributor = new StepAttributor(
      ["layer 0", "layer 1", "loss", "optimizer"],
      new Map([[w0, 0], [w1, 1]])
    )
    const call = (method: "matmul" | "attention" | "add" | "crossEntropy" | "adamw", ms: number, arg: unknown) =>
      attributor.record(method, ms, [activation, arg])
    call("matmul", 1, w0)
    call("attention", 2, activation) // forward, after layer 0's call: layer 0
    call("matmul", 4, w1)
    call("add", 8, activation) // forward: layer 1
    call("crossEntropy", 16, activation) // the loss; the backward pass starts
    call("add", 32, activation) // backward, before layer 1's call: layer 1
    call("matmul", 64, w1)
    call("attention", 128, activation) // backward: layer 0
    call("matmul", 256, w0)
    attributor.startUpdate()
    call("adamw", 512, w0) // the optimizer, whatever it touches
    const step = attributor.finishStep()
    assert.deepStrictEqual(step.byPart.map((p) => [p.forward.ms, p.backward.ms, p.update.ms]), [
      [3, 384, 0],
      [12, 96, 0],
      [16, 0, 0],
      [0, 0, 512]
    ])
    assert.strictEqual(step.kernelMs, 1023)
    assert.deepStrictEqual(step.families.get("matmul"), { ms: 325, calls: 4 })
  })

  it("runs from the CLI, writes --json, and refuses a --json file it could not write before any step", () => {
    const dir = tempDir()
    const file = path.join(dir, "profile.json")
    const cli = (...args: Array<string>) =>
      spawnSync(process.execPath, [path.join(repoRoot, "bin", "continuum"), "bench", "step", ...args], {
        encoding: "utf8",
        cwd: repoRoot
      })
    const ok = cli("--profile", "--steps", "2", "--warmup", "1", "--json", file)
    assert.strictEqual(ok.status, 0, ok.stderr)
    for (const heading of ["family", "ms/step", "calls/step", "layer 1", "outside kernels"]) {
      assert.include(ok.stdout, heading)
    }
    const written = JSON.parse(fs.readFileSync(file, "utf8")) as StepProfile
    assertConsistent(written)
    assert.strictEqual(written.model.layers, 2)

    const missing = path.join(dir, "no-such-dir", "profile.json")
    const refused = cli("--profile", "--json", missing)
    assert.strictEqual(refused.status, 2, refused.stderr)
    assert.include(refused.stderr, `--json ${missing}`)
    assert.notInclude(refused.stdout, "family")
  })
})
