/**
 * The gpujs storage keeps tensors on the device (headless GL): what a training step moves across
 * the gpu.js boundary, that textures do not pile up over steps, and the residency rules — a host
 * write is seen by the next kernel, a device result by the next host read, a partial write keeps
 * the rest of a tensor, and a call handed to the cpu backend sees the device's values.
 *
 * Skipped, with the reason printed, when headless GL cannot run here.
 */
import { afterAll, assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Scope } from "effect"
import { makeCpuKernels } from "../../src/kernels/cpu/index.ts"
import { type GpujsKernels, makeGpujsKernels } from "../../src/kernels/gpujs/index.ts"
import { moveIntoStorage } from "../../src/kernels/TensorStorage.ts"
import { makeLlama } from "../../src/model/llama.ts"
import type { LlamaConfig } from "../../src/model/model.ts"
import { adamw } from "../../src/optim/adamw.ts"
import { clipGradNorm } from "../../src/optim/clip.ts"
import { uniform } from "../../src/tensor/rng.ts"

const scope = await Effect.runPromise(Scope.make())
const g: GpujsKernels = await Effect.runPromise(Scope.provide(scope)(makeGpujsKernels("headlessgl")))
afterAll(() => Effect.runPromise(Scope.close(scope, Exit.void)))
const headless = g.mode === "headlessgl"
if (!headless) console.warn(`gpujs residency tests SKIPPED: ${g.reason}`)

const cpu = makeCpuKernels()
const k = g.kernels
const storage = k.storage

const config: LlamaConfig = {
  vocabSize: 32,
  dim: 16,
  layers: 1,
  heads: 2,
  ffnDim: 24,
  seqLen: 8,
  normEps: 1e-5,
  ropeTheta: 10000
}
const B = 4

/** A training step's parts on the gpujs kernels, with a fresh batch of windows each step. */
const trainer = () => {
  const model = makeLlama(config)
  const params = model.init(0)
  const grads = model.init(1)
  const rule = adamw({ lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0.1 })
  const state = rule.init(params)
  for (const tensors of [params, grads, state.tensors]) moveIntoStorage(storage, tensors)
  const T = config.seqLen
  return {
    params,
    step: (n: number) => {
      // B windows of T + 1 tokens: the ids are their first T, the targets their last T.
      const ids = new Int32Array(B * T)
      const targets = new Int32Array(B * T)
      for (let b = 0; b < B; b++) {
        for (let t = 0; t < T; t++) {
          ids[b * T + t] = Math.floor(uniform(n, b, t) * config.vocabSize)
          targets[b * T + t] = Math.floor(uniform(n, b, t + 1) * config.vocabSize)
        }
      }
      // The same token at t + 1 for the targets as for the ids.
      for (let b = 0; b < B; b++) for (let t = 0; t + 1 < T; t++) targets[b * T + t] = ids[b * T + t + 1]!
      const loss = model.lossAndGrad(k, params, ids, targets, B, 1 / (B * T), grads)
      clipGradNorm(k, grads, 1)
      rule.update(k, params, grads, 1e-3, state, model.params)
      return loss
    }
  }
}

/** A tensor of the storage holding `values` on the device only: its host copy is NaN. */
const onDevice = (values: Float32Array): Float32Array => {
  const x = storage.allocate(values.length)
  x.set(values)
  storage.written(x)
  k.scale(x, 1, x)
  x.fill(NaN)
  return x
}

const values = (stream: number, n: number): Float32Array =>
  Float32Array.from({ length: n }, (_, i) => 2 * uniform(5, stream, i) - 1)

describe.skipIf(!headless)("gpujs storage in headless GL", () => {
  it("a step uploads its token ids and little more, and reads back one value per loss and norm", () => {
    const run = trainer()
    run.step(0)
    run.step(1)
    g.device.startCounting()
    const loss = run.step(2)
    const traffic = g.device.stopCounting()
    assert.isTrue(Number.isFinite(loss))
    const ids = 4 * B * config.seqLen
    // The ids, then the targets built on the device from them and one token (position and value) per row.
    assert.isAtLeast(traffic.bytesUp, ids)
    assert.isAtMost(traffic.bytesUp, ids + 4 * 2 * B)
    // One value for the loss, one per gradient for the clipping norm.
    assert.strictEqual(traffic.bytesDown, 4 * (1 + run.params.size))
  })

  it("the number of live textures after step 2 is the same after step 12: nothing piles up", () => {
    const run = trainer()
    run.step(0)
    run.step(1)
    const live = g.device.liveTextures
    for (let n = 2; n < 12; n++) run.step(n)
    assert.strictEqual(g.device.liveTextures, live)
  })

  it("a device result reaches the host on read, once", () => {
    const a = values(1, 12)
    const x = onDevice(a)
    g.device.startCounting()
    assert.deepStrictEqual(storage.read(x), a)
    assert.deepStrictEqual(storage.read(x), a)
    assert.strictEqual(g.device.stopCounting().bytesDown, 4 * 12, "read once")
    storage.release(x)
  })

  it("a host write, announced, is what the next kernel uses", () => {
    const x = onDevice(values(1, 12))
    storage.read(x)
    x.set(values(2, 12))
    storage.written(x)
    const out = storage.allocate(12)
    k.scale(x, 2, out)
    const want = new Float32Array(12)
    cpu.scale(values(2, 12), 2, want)
    assert.deepStrictEqual(storage.read(out), want)
  })

  it("fill sets both copies without an upload", () => {
    const x = onDevice(values(1, 12))
    g.device.startCounting()
    storage.fill(x, 3)
    const out = storage.allocate(12)
    k.add(x, x, out)
    assert.strictEqual(g.device.stopCounting().bytesUp, 0)
    assert.deepStrictEqual(storage.read(out), new Float32Array(12).fill(6))
  })

  it("a kernel writing the first values of a longer tensor keeps the rest", () => {
    const a = values(1, 6)
    const b = values(2, 6)
    const c = onDevice(values(3, 20))
    // c's first 4 values: a [2×3] · b [3×2].
    k.matmul(a, b, c, 2, 2, 3, false, false, false)
    const want = values(3, 20)
    cpu.matmul(a, b, want, 2, 2, 3, false, false, false)
    const got = storage.read(c)
    for (let i = 0; i < 20; i++) assert.approximately(got[i]!, want[i]!, 1e-6, `c[${i}]`)
  })

  it("a call handed to the cpu backend (a float64 operand) reads the device's values", () => {
    const a = values(1, 8)
    const x = onDevice(a)
    const y = Float64Array.from(values(2, 8))
    const got = new Float64Array(8)
    k.add(x, y, got)
    const want = new Float64Array(8)
    cpu.add(a, y, want)
    assert.deepStrictEqual(got, want)
  })
})
