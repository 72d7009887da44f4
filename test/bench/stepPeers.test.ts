/**
 * The step benchmark's peers (TensorFlow.js wasm, jax-js) train the same model as continuum: from
 * continuum's initial weights and batch, their first loss (the forward pass) and second loss
 * (after one clipped AdamW update, so the gradients and the update too) agree with continuum's
 * cpu step within 1e-4 (float32 rounding moves them by ~1e-6; a missing term, a wrong RoPE pairing,
 * an unmasked future position or a different update moves them by 1e-2 or more). A peer that is
 * not installed is skipped with its reason printed.
 */
import { assert, describe, it } from "@effect/vitest"
import { prepareReferenceStep, referenceBatch } from "../../src/bench/step.ts"
import { runStepPeers } from "../../src/bench/stepPeers.ts"
import { makeCpuKernels } from "../../src/kernels/cpu/index.ts"
import type { LlamaConfig } from "../../src/model/model.ts"

/** Smaller than the reference model (it runs in every test run), with two layers and heads. */
const model: LlamaConfig = {
  vocabSize: 256,
  dim: 32,
  layers: 2,
  heads: 2,
  ffnDim: 48,
  seqLen: 16,
  normEps: 1e-5,
  ropeTheta: 10000
}
const TOL = 1e-4

describe("bench step peers", () => {
  it("each installed peer's first two losses agree with continuum's step within 1e-4", async () => {
    const kernels = makeCpuKernels()
    const step = prepareReferenceStep(model)
    const first = step.forwardBackward(kernels)
    step.clipAndUpdate(kernels)
    const second = step.forwardBackward(kernels)

    const report = await runStepPeers({ config: model, batch: referenceBatch, steps: 1, warmup: 1 })
    for (const u of report.unavailable) console.warn(`step peer ${u.peer} skipped: ${u.reason}`)
    // Only a missing package may skip a peer: one that loaded and failed is a failure.
    for (const u of report.unavailable) assert.include(u.reason, "not installed", `${u.peer}: ${u.reason}`)
    for (const row of report.rows) {
      assert.isAtMost(Math.abs(row.firstLoss - first), TOL, `${row.peer} first loss ${row.firstLoss} vs ${first}`)
      assert.isAtMost(Math.abs(row.secondLoss - second), TOL, `${row.peer} second loss ${row.secondLoss} vs ${second}`)
      assert.isAbove(row.msPerStep, 0)
    }
    assert.strictEqual(report.rows.length + report.unavailable.length, 2)
  })
})
