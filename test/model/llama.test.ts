import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import { makeCpuKernels } from "../../src/kernels/cpu/index.ts"
import { ModelInputError } from "../../src/model/errors.ts"
import { zerosFor } from "../../src/model/init.ts"
import { makeLlama } from "../../src/model/llama.ts"
import type { LlamaConfig } from "../../src/model/model.ts"
import { dumpParams, loadParams } from "../../src/model/params.ts"

const k = makeCpuKernels()

const config: LlamaConfig = {
  vocabSize: 13,
  dim: 16,
  layers: 2,
  heads: 2,
  ffnDim: 24,
  seqLen: 6,
  normEps: 1e-5,
  ropeTheta: 10000
}

const tokens = (n: number, vocab: number, salt: number): Int32Array =>
  Int32Array.from({ length: n }, (_, i) => (i * 5 + salt + ((i * i) % 7)) % vocab)

const stdOf = (xs: ArrayLike<number>): number => {
  let s = 0
  for (let i = 0; i < xs.length; i++) s += xs[i] * xs[i]
  return Math.sqrt(s / xs.length)
}

describe("llama parameters", () => {
  it("are named and shaped as in torchtitan, weights [out, in], in canonical order", () => {
    const model = makeLlama({ ...config, layers: 1 })
    assert.deepStrictEqual(
      model.params.map((p) => `${p.name} [${p.shape.join(",")}] ${p.decay ? "decay" : "no-decay"}`),
      [
        "tok_embeddings.weight [13,16] decay",
        "layers.0.attention_norm.weight [16] no-decay",
        "layers.0.attention.wq.weight [16,16] decay",
        "layers.0.attention.wk.weight [16,16] decay",
        "layers.0.attention.wv.weight [16,16] decay",
        "layers.0.attention.wo.weight [16,16] decay",
        "layers.0.ffn_norm.weight [16] no-decay",
        "layers.0.feed_forward.w1.weight [24,16] decay",
        "layers.0.feed_forward.w2.weight [16,24] decay",
        "layers.0.feed_forward.w3.weight [24,16] decay",
        "norm.weight [16] no-decay",
        "output.weight [13,16] decay"
      ]
    )
    assert.deepStrictEqual([...model.init(1).keys()], model.params.map((p) => p.name))
  })

  it("init is deterministic, one stream per name, std 0.02 (residual outputs /√(2·layers)), norms 1", () => {
    const big = makeLlama({ ...config, dim: 64, ffnDim: 128, layers: 2 })
    const a = big.init(5)
    const b = big.init(5)
    for (const [name, t] of a) assert.deepStrictEqual(b.get(name)!.data, t.data, name)
    assert.notDeepEqual(big.init(6).get("output.weight")!.data, a.get("output.weight")!.data)
    // A tensor's values depend on its name only, not on the rest of the architecture.
    const oneLayer = makeLlama({ ...config, dim: 64, ffnDim: 128, layers: 1 }).init(5)
    assert.deepStrictEqual(
      oneLayer.get("layers.0.attention.wq.weight")!.data,
      a.get("layers.0.attention.wq.weight")!.data
    )
    assert.closeTo(stdOf(a.get("layers.1.feed_forward.w1.weight")!.data), 0.02, 0.001)
    assert.closeTo(stdOf(a.get("tok_embeddings.weight")!.data), 0.02, 0.001)
    assert.closeTo(stdOf(a.get("layers.0.attention.wo.weight")!.data), 0.02 / 2, 0.0005)
    assert.closeTo(stdOf(a.get("layers.1.feed_forward.w2.weight")!.data), 0.02 / 2, 0.0005)
    assert.deepStrictEqual([...a.get("norm.weight")!.data], new Array(64).fill(1))
  })
})

describe("llama forward and backward", () => {
  const model = makeLlama(config)
  const batch = 3
  const n = batch * config.seqLen
  const ids = tokens(n, config.vocabSize, 1)
  const targets = tokens(n, config.vocabSize, 4)

  it("starts near ln V and agrees between loss, lossAndGrad, float32 and float64", () => {
    const p32 = model.init(0)
    const p64 = model.init(0, "f64")
    const l32 = model.loss(k, p32, ids, targets, batch)
    const l64 = model.loss(k, p64, ids, targets, batch)
    assert.closeTo(l64 / n, Math.log(config.vocabSize), 0.05)
    assert.closeTo(l32, l64, 1e-4)
    assert.strictEqual(model.lossAndGrad(k, p32, ids, targets, batch, 1, zerosFor(model.params)), l32)
  })

  it("overwrites gradients, reuses buffers across calls with identical results, and scales by gradScale", () => {
    const params = model.init(3)
    const g1 = zerosFor(model.params)
    const g2 = zerosFor(model.params)
    for (const t of g2.values()) t.data.fill(1234)
    const l1 = model.lossAndGrad(k, params, ids, targets, batch, 1, g1)
    model.loss(k, params, tokens(n, config.vocabSize, 9), targets, batch) // interleaved other work
    const l2 = model.lossAndGrad(k, params, ids, targets, batch, 1, g2)
    assert.strictEqual(l2, l1)
    for (const [name, t] of g1) assert.deepStrictEqual(g2.get(name)!.data, t.data, name)
    const g3 = zerosFor(model.params, "f64")
    const p64 = model.init(3, "f64")
    const g4 = zerosFor(model.params, "f64")
    model.lossAndGrad(k, p64, ids, targets, batch, 1, g3)
    model.lossAndGrad(k, p64, ids, targets, batch, 0.125, g4)
    for (const [name, t] of g3) {
      const scaled = g4.get(name)!.data
      for (let i = 0; i < t.data.length; i++) assert.closeTo(scaled[i], t.data[i] * 0.125, 1e-15)
    }
  })

  it("is causal: logits at a position ignore later tokens, and a prefix gives the same rows", () => {
    const params = model.init(1, "f64")
    const full = model.logits(k, params, ids, batch, config.seqLen)
    const changed = ids.slice()
    changed[4] = (changed[4] + 1) % config.vocabSize // row 0, position 4
    const after = model.logits(k, params, changed, batch, config.seqLen)
    const V = config.vocabSize
    for (let pos = 0; pos < 4; pos++) {
      for (let j = 0; j < V; j++) assert.strictEqual(after[pos * V + j], full[pos * V + j])
    }
    assert.notStrictEqual(after[4 * V], full[4 * V])
    const len = 3
    const prefixIds = new Int32Array(batch * len)
    for (let b = 0; b < batch; b++) prefixIds.set(ids.subarray(b * config.seqLen, b * config.seqLen + len), b * len)
    const prefix = model.logits(k, params, prefixIds, batch, len)
    for (let b = 0; b < batch; b++) {
      for (let pos = 0; pos < len; pos++) {
        for (let j = 0; j < V; j++) {
          assert.closeTo(prefix[(b * len + pos) * V + j], full[(b * config.seqLen + pos) * V + j], 1e-13)
        }
      }
    }
  })

  it("rejects batches whose size does not match, naming the field", () => {
    const params = model.init(0)
    try {
      model.loss(k, params, ids.subarray(1), targets, batch)
      assert.fail("expected ModelInputError")
    } catch (e) {
      assert.instanceOf(e, ModelInputError)
      assert.strictEqual(e.field, "ids.length")
      assert.strictEqual(e.value, n - 1)
    }
    assert.throws(() => model.logits(k, params, ids, batch, config.seqLen + 1), /len = 7/)
  })
})

describe("dumpParams / loadParams", () => {
  const model = makeLlama(config)
  const batch = 2
  const ids = tokens(batch * config.seqLen, config.vocabSize, 2)
  const targets = tokens(batch * config.seqLen, config.vocabSize, 3)

  it.effect("a round trip gives the same loss bit for bit", () =>
    Effect.gen(function*() {
      const params = model.init(11)
      const before = model.loss(k, params, ids, targets, batch)
      const dumped = dumpParams(params)
      assert.deepStrictEqual(Object.keys(dumped), model.params.map((p) => p.name))
      params.get("norm.weight")!.data.fill(0) // the dump is a copy, not a view
      const loaded = yield* loadParams(model, dumped)
      assert.strictEqual(model.loss(k, loaded, ids, targets, batch), before)
    }))

  it.effect("names the tensor and both shapes on a mismatch, and reports missing or extra tensors", () =>
    Effect.gen(function*() {
      const dumped = dumpParams(model.init(0))
      const wrongShape = {
        ...dumped,
        "layers.1.feed_forward.w2.weight": { shape: [24, 16], data: new Float32Array(384) }
      }
      const e1 = yield* Effect.flip(loadParams(model, wrongShape))
      assert.strictEqual(e1._tag, "ParamShapeError")
      assert.include(e1.message, "layers.1.feed_forward.w2.weight")
      assert.include(e1.message, "[24, 16]")
      assert.include(e1.message, "[16, 24]")

      const { ["norm.weight"]: _, ...missing } = dumped
      const e2 = yield* Effect.flip(loadParams(model, missing))
      assert.strictEqual(e2._tag, "MissingParamError")
      assert.include(e2.message, "norm.weight")

      const extra = { ...dumped, "lm_head.weight": { shape: [1], data: new Float32Array(1) } }
      const e3 = yield* Effect.flip(loadParams(model, extra))
      assert.strictEqual(e3._tag, "UnexpectedParamError")
      assert.include(e3.message, "lm_head.weight")

      const exit = yield* Effect.exit(loadParams(model, new Map(Object.entries(dumped))))
      assert.isTrue(Exit.isSuccess(exit))
    }))
})
