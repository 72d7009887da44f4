import { assert, describe, it } from "@effect/vitest"
import { gradCheck } from "../../src/autograd/gradcheck.ts"
import { makeCpuKernels } from "../../src/kernels/cpu/index.ts"
import { zerosFor } from "../../src/model/init.ts"
import { makeLlama } from "../../src/model/llama.ts"
import { makeMlp } from "../../src/model/mlp.ts"
import type { LanguageModel, Params } from "../../src/model/model.ts"
import { randomArray } from "./helpers.ts"

const cpuKernels = makeCpuKernels()

// Whole-model gradients against central finite differences in float64: every parameter entry,
// relative error |a − n| / max(|a| + |n|, 1e-3) below 1e-6.
const TOL = 1e-6

const tokens = (n: number, vocab: number, salt: number): Int32Array =>
  Int32Array.from({ length: n }, (_, i) => (i * 7 + salt * 3 + ((i * i) % 5)) % vocab)

/**
 * Parameters drawn well away from the tiny init scale (uniform in [-0.5, 0.5], norms in
 * [0.5, 1.5]) so that every gradient entry is large enough to be compared meaningfully.
 */
const wideParams = (model: LanguageModel): Params => {
  const params = model.init(0, "f64")
  let stream = 100
  for (const spec of model.params) {
    const p = params.get(spec.name)!
    const [lo, hi] = spec.init.kind === "ones" ? [0.5, 1.5] : [-0.5, 0.5]
    p.data.set(randomArray(p.data.length, stream++, lo, hi))
  }
  return params
}

const checkModel = (model: LanguageModel, batch: number) => {
  const n = batch * model.seqLen
  const ids = tokens(n, model.vocabSize, 1)
  const targets = tokens(n, model.vocabSize, 2)
  const params = wideParams(model)
  const grads = zerosFor(model.params, "f64")
  const scale = 1 / n
  const loss = model.lossAndGrad(cpuKernels, params, ids, targets, batch, scale, grads)
  assert.closeTo(loss, model.loss(cpuKernels, params, ids, targets, batch), 1e-12)
  const names = model.params.map((s) => s.name)
  const result = gradCheck(
    () => model.loss(cpuKernels, params, ids, targets, batch) * scale,
    names.map((name) => params.get(name)!.data),
    names.map((name) => grads.get(name)!.data)
  )
  return { result, names }
}

describe("whole-model gradients (float64)", () => {
  it("llama V=11, d=8, 2 layers, 2 heads, f=12, T=5, batch 2", () => {
    const model = makeLlama({
      vocabSize: 11,
      dim: 8,
      layers: 2,
      heads: 2,
      ffnDim: 12,
      seqLen: 5,
      normEps: 1e-5,
      ropeTheta: 10000
    })
    const { result, names } = checkModel(model, 2)
    assert.strictEqual(result.checked, model.params.reduce((s, p) => s + p.shape.reduce((a, b) => a * b, 1), 0))
    assert.isBelow(result.maxRelError, TOL, `${names[result.worst!.input]}: ${JSON.stringify(result.worst)}`)
  })

  it("mlp V=7, d=5, hidden 6, T=4, batch 3", () => {
    const model = makeMlp({ vocabSize: 7, dim: 5, hidden: 6, seqLen: 4 })
    const { result, names } = checkModel(model, 3)
    assert.isBelow(result.maxRelError, TOL, `${names[result.worst!.input]}: ${JSON.stringify(result.worst)}`)
  })
})
