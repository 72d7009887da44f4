import { assert, describe, it } from "@effect/vitest"
import { makeCpuKernels } from "../../src/kernels/cpu/index.ts"
import { zerosFor } from "../../src/model/init.ts"
import { makeMlp } from "../../src/model/mlp.ts"

const k = makeCpuKernels()

describe("mlp language model", () => {
  const model = makeMlp({ vocabSize: 10, dim: 6, hidden: 12, seqLen: 4 })

  it("has the three named parameters", () => {
    assert.deepStrictEqual(
      model.params.map((p) => [p.name, p.shape]),
      [["tok_embeddings.weight", [10, 6]], ["hidden.weight", [12, 6]], ["output.weight", [10, 12]]]
    )
  })

  it("predicts each position from its own token only", () => {
    const params = model.init(2, "f64")
    const ids = Int32Array.from([3, 3, 7, 1])
    const logits = model.logits(k, params, ids, 1, 4)
    for (let j = 0; j < 10; j++) assert.strictEqual(logits[10 + j], logits[j])
    const loss = model.lossAndGrad(k, params, ids, Int32Array.from([3, 7, 1, 0]), 1, 1, zerosFor(model.params, "f64"))
    assert.closeTo(loss / 4, Math.log(10), 0.01)
  })
})
