import { assert, describe, it } from "@effect/vitest"
import { makeCpuKernels } from "../../src/kernels/cpu/index.ts"
import { zerosFor } from "../../src/model/init.ts"
import { makeMlp } from "../../src/model/mlp.ts"
import { adamw } from "../../src/optim/adamw.ts"
import { clipGradNorm } from "../../src/optim/clip.ts"
import { OptimizerStateError, type UpdateTarget } from "../../src/optim/optimizer.ts"
import { sgd } from "../../src/optim/sgd.ts"
import type { NamedTensors } from "../../src/tensor/namedTensors.ts"

const k = makeCpuKernels()

// A matrix that is decayed and a norm weight that is not, three steps with a changing lr.
const targets: ReadonlyArray<UpdateTarget> = [
  { name: "w", shape: [2, 2], decay: true },
  { name: "n", shape: [2], decay: false }
]
const freshParams = (): NamedTensors =>
  new Map([
    ["w", { shape: [2, 2], data: Float64Array.from([0.5, -0.25, 1.0, 2.0]) }],
    ["n", { shape: [2], data: Float64Array.from([1.0, 0.75]) }]
  ])
const gradSteps: ReadonlyArray<NamedTensors> = [
  [[0.1, -0.2, 0.3, 0.0], [0.5, -0.05]],
  [[-0.3, 0.1, 0.3, 0.2], [0.25, 0.05]],
  [[0.05, 0.05, -0.4, 0.1], [-0.5, 0.0]]
].map(([w, n]) =>
  new Map([
    ["w", { shape: [2, 2], data: Float64Array.from(w) }],
    ["n", { shape: [2], data: Float64Array.from(n) }]
  ])
)
const lrs = [0.1, 0.05, 0.02]

// Expected values computed independently by following torch.optim's documented single-tensor
// algorithms step by step in float64 (p ← p(1 − lr·wd) first for AdamW; PyTorch momentum and
// Nesterov for SGD).
const expectValues = (actual: ArrayLike<number>, expected: ReadonlyArray<number>, label: string): void => {
  assert.strictEqual(actual.length, expected.length, label)
  for (let i = 0; i < expected.length; i++) assert.closeTo(actual[i], expected[i], 1e-12, `${label}[${i}]`)
}

describe("AdamW", () => {
  it("matches the reference over three steps (bias correction, decay on matrices only)", () => {
    const rule = adamw({ lr: 0.1, betas: [0.9, 0.95], eps: 1e-8, weightDecay: 0.1 })
    const params = freshParams()
    const state = rule.init(params)
    assert.deepStrictEqual([...state.tensors.keys()], ["exp_avg.w", "exp_avg.n", "exp_avg_sq.w", "exp_avg_sq.n"])
    gradSteps.forEach((g, i) => rule.update(k, params, g, lrs[i], state, targets))
    assert.strictEqual(state.step, 3)
    expectValues(params.get("w")!.data, [
      0.4222170161334365,
      -0.13182701827014695,
      0.8314147910728261,
      1.913555476904471
    ], "w")
    expectValues(params.get("n")!.data, [0.8508200118565287, 0.8465441935807168], "n")
    expectValues(state.tensors.get("exp_avg.w")!.data, [-0.0139, -0.0022, 0.0113, 0.028], "exp_avg.w")
    expectValues(state.tensors.get("exp_avg_sq.n")!.data, [0.02675, 0.0002315625], "exp_avg_sq.n")
  })

  it("refuses a state of another kind or with a missing buffer, naming it", () => {
    const params = freshParams()
    const rule = adamw({ lr: 0.1, betas: [0.9, 0.95], eps: 1e-8, weightDecay: 0 })
    const sgdState = sgd({ lr: 0.1, momentum: 0.9, nesterov: false, weightDecay: 0 }).init(params)
    assert.throws(() => rule.update(k, params, gradSteps[0], 0.1, sgdState, targets), OptimizerStateError)
    const state = rule.init(params)
    state.tensors.delete("exp_avg_sq.n")
    assert.throws(() => rule.update(k, params, gradSteps[0], 0.1, state, targets), /exp_avg_sq\.n is missing/)
  })
})

describe("SGD", () => {
  it("matches the reference with momentum 0.9 and decay on matrices only", () => {
    const rule = sgd({ lr: 0.1, momentum: 0.9, nesterov: false, weightDecay: 0.1 })
    const params = freshParams()
    const state = rule.init(params)
    gradSteps.forEach((g, i) => rule.update(k, params, g, lrs[i], state, targets))
    expectValues(params.get("w")!.data, [0.49094035, -0.219540525, 0.9147476, 1.9347938], "w")
    expectValues(params.get("n")!.data, [0.9124, 0.75466], "n")
    expectValues(state.tensors.get("momentum_buffer.w")!.data, [-0.0057675, -0.08484875, 0.37262, 0.81531], "buf.w")
  })

  it("matches the reference with Nesterov momentum", () => {
    const rule = sgd({ lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 0.1 })
    const params = freshParams()
    const state = rule.init(params)
    gradSteps.forEach((g, i) => rule.update(k, params, g, lrs[i], state, targets))
    expectValues(params.get("w")!.data, [0.48759502615, -0.204790839225, 0.8702251364, 1.8958447682], "w")
    expectValues(params.get("n")!.data, [0.86866, 0.756694], "n")
  })
})

describe("clipGradNorm", () => {
  const grads = (): NamedTensors =>
    new Map([
      ["a", { shape: [2], data: Float32Array.from([3, 0]) }],
      ["b", { shape: [1], data: Float32Array.from([4]) }]
    ])

  it("returns the pre-clip global norm and scales by maxNorm/(norm + 1e-6) when above", () => {
    const g = grads()
    assert.strictEqual(clipGradNorm(k, g, 1), 5)
    const f = 1 / (5 + 1e-6)
    assert.closeTo(g.get("a")!.data[0], 3 * f, 1e-7)
    assert.closeTo(g.get("b")!.data[0], 4 * f, 1e-7)
    assert.closeTo(clipGradNorm(k, g, 1), 1, 1e-6)
  })

  it("leaves gradients alone when the norm is within the limit or not finite", () => {
    const g = grads()
    assert.strictEqual(clipGradNorm(k, g, 10), 5)
    assert.deepStrictEqual([...g.get("a")!.data], [3, 0])
    g.get("b")!.data[0] = NaN
    assert.isNaN(clipGradNorm(k, g, 1))
    assert.deepStrictEqual([...g.get("a")!.data], [3, 0])
  })
})

describe("a training loop", () => {
  it("AdamW with clipping drives a small model's loss down on a fixed successor task", () => {
    const model = makeMlp({ vocabSize: 8, dim: 8, hidden: 16, seqLen: 8 })
    const params = model.init(0)
    const grads = zerosFor(model.params)
    const ids = Int32Array.from({ length: 32 }, (_, i) => i % 8)
    const targets = ids.map((x) => (x + 3) % 8)
    const rule = adamw({ lr: 0.02, betas: [0.9, 0.95], eps: 1e-8, weightDecay: 0.01 })
    const state = rule.init(params)
    const first = model.loss(k, params, ids, targets, 4) / 32
    for (let step = 0; step < 150; step++) {
      model.lossAndGrad(k, params, ids, targets, 4, 1 / 32, grads)
      clipGradNorm(k, grads, 1)
      rule.update(k, params, grads, 0.02, state, model.params)
    }
    const last = model.loss(k, params, ids, targets, 4) / 32
    assert.closeTo(first, Math.log(8), 0.01)
    assert.isBelow(last, 0.1)
  })
})
