import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { Arena } from "../../src/autograd/arena.ts"
import { defaultRunConfig } from "../../src/config/loadConfig.ts"
import { checkRunSize, parseByteSize, RunTooLarge } from "../../src/config/MemoryBudget.ts"
import {
  estimateMemory,
  MAX_TENSOR_VALUES,
  parameterCount,
  RANK_RUNTIME_BYTES,
  RUNTIME_BYTES
} from "../../src/config/memoryEstimate.ts"
import { RunConfig } from "../../src/config/RunConfig.ts"
import { makeCpuKernels } from "../../src/kernels/cpu/index.ts"
import { modelFromConfig } from "../../src/model/fromConfig.ts"
import { zerosFor } from "../../src/model/init.ts"
import { sizeOf } from "../../src/tensor/tensor.ts"

const k = makeCpuKernels()

const configOf = (input: Record<string, unknown>): RunConfig => Schema.decodeUnknownSync(RunConfig)(input)

const variants: ReadonlyArray<Record<string, unknown>> = [
  {},
  { model: { layers: 1 } },
  { model: { layers: 3, ffnDim: 100 } },
  { model: { dim: 32, heads: 2, vocabSize: 100 } },
  { model: { heads: 8, seqLen: 32 } },
  { model: { kind: "mlp" } },
  { model: { kind: "mlp", dim: 32, ffnDim: 100, vocabSize: 300 } }
]

/**
 * The values the real model takes from its arenas for one pass: every fresh buffer of a first
 * pass is one `take`, so counting the takes (and passing them through) measures the arena.
 */
const arenaValues = (pass: () => void): number => {
  const take = Arena.prototype.take
  let values = 0
  Arena.prototype.take = function(this: Arena, n: number) {
    values += n
    return take.call(this, n)
  }
  try {
    pass()
  } finally {
    Arena.prototype.take = take
  }
  return values
}

/** Measured arena values of a training micro-batch (forward and backward) and of an evaluation forward (μ windows at a time). */
const measure = (config: RunConfig) => {
  const model = modelFromConfig(config.model)
  const params = model.init(1)
  const rows = (batch: number) => new Int32Array(batch * config.model.seqLen)
  const { micro } = config.batch
  return {
    training: arenaValues(() =>
      model.lossAndGrad(k, params, rows(micro), rows(micro), micro, 1, zerosFor(model.params))
    ),
    evaluation: arenaValues(() => model.loss(k, params, rows(micro), rows(micro), micro))
  }
}

describe("estimateMemory", () => {
  it("counts exactly the parameters of the real model", () => {
    for (const input of variants) {
      const config = configOf(input)
      const model = modelFromConfig(config.model)
      const real = model.params.reduce((n, spec) => n + sizeOf(spec.shape), 0)
      assert.strictEqual(parameterCount(config.model), real, JSON.stringify(input))
      const estimate = estimateMemory(config, 0)
      assert.strictEqual(estimate.parameters, 4 * real)
      // Two gradient buffers (step sum and micro-batch), AdamW's two moments, SGD's momentum.
      assert.strictEqual(estimate.gradients, 8 * real)
      assert.strictEqual(estimate.optimizer, 8 * real)
      assert.strictEqual(estimateMemory(configOf({ ...input, optimizer: { kind: "sgd" } }), 0).optimizer, 4 * real)
    }
  })

  it("counts exactly the activation buffers the real model allocates, training and evaluation", () => {
    for (const input of variants) {
      const config = configOf({ ...input, batch: { global: 4, micro: 2 }, eval: { batches: 3 } })
      const { micro, global } = config.batch
      const t = config.model.seqLen
      const measured = measure(config)
      const estimate = estimateMemory(config, 0)
      // Plus the micro-batch's Int32 ids and targets; evaluation keeps every validation batch's.
      assert.strictEqual(estimate.activations, 4 * measured.training + 8 * micro * t, JSON.stringify(input))
      assert.strictEqual(estimate.evaluation, 4 * measured.evaluation + 8 * 3 * global * t, JSON.stringify(input))
    }
  })

  it("counts attention's saved log-sum-exp on cpu and the probabilities [μ, H, T, T] on gpujs", () => {
    const config = configOf({ batch: { global: 4, micro: 2 } })
    const gpujs = configOf({ batch: { global: 4, micro: 2 }, kernels: { backend: "gpujs" } })
    const { layers, heads, seqLen: t } = config.model
    const extra = (batch: number) => 4 * layers * batch * heads * t * (t - 1)
    assert.strictEqual(estimateMemory(gpujs, 0).activations - estimateMemory(config, 0).activations, extra(2))
  })

  it("evaluation reuses the training arena where the run's thread trains (gpujs), and has its own of μ windows beside ranks (cpu)", () => {
    const input = { batch: { global: 4, micro: 2 }, eval: { batches: 1 } }
    const gpujs = configOf({ ...input, kernels: { backend: "gpujs" } })
    const ids = 8 * 4 * gpujs.model.seqLen
    assert.strictEqual(estimateMemory(gpujs, 0).evaluation, ids)
    const cpu = configOf(input)
    assert.strictEqual(estimateMemory(cpu, 0).evaluation, 4 * measure(cpu).evaluation + ids)
    assert.strictEqual(
      estimateMemory(cpu, 0, 2).evaluation,
      estimateMemory(cpu, 0, 1).evaluation,
      "one evaluating thread"
    )
  })

  it("grows with every size, and counts the data twice (bytes read, tokens built)", () => {
    const total = (input: Record<string, unknown>) => estimateMemory(configOf(input), 1000).total
    const reference = total({})
    for (
      const bigger of [
        { model: { dim: 128 } },
        { model: { layers: 3 } },
        { model: { ffnDim: 200 } },
        { model: { vocabSize: 300 } },
        { model: { seqLen: 65 } },
        { model: { heads: 8 } },
        { batch: { global: 32 } },
        { eval: { batches: 21 } }
      ]
    ) {
      assert.isAbove(total(bigger), reference, JSON.stringify(bigger))
    }
    let previous = 0
    for (const dim of [16, 32, 64, 128, 256, 512]) {
      const next = total({ model: { dim } })
      assert.isAbove(next, previous)
      previous = next
    }
    const config = defaultRunConfig()
    assert.strictEqual(estimateMemory(config, 5000).data, 10000)
    assert.strictEqual(estimateMemory(config, 0).runtime, RUNTIME_BYTES + RANK_RUNTIME_BYTES)
  })

  it("counts a gradient slot, an activation arena and a thread per rank on cpu, one thread on gpujs", () => {
    const config = configOf({})
    const one = estimateMemory(config, 0, 1)
    const four = estimateMemory(config, 0, 4)
    assert.strictEqual(four.gradients, (5 / 2) * one.gradients)
    assert.strictEqual(four.activations, 4 * one.activations)
    assert.strictEqual(four.runtime, RUNTIME_BYTES + 4 * RANK_RUNTIME_BYTES)
    const gpujs = configOf({ kernels: { backend: "gpujs" } })
    assert.deepStrictEqual(estimateMemory(gpujs, 0, 4), { ...estimateMemory(gpujs, 0, 1) })
    assert.strictEqual(estimateMemory(gpujs, 0, 4).runtime, RUNTIME_BYTES)
    assert.strictEqual(estimateMemory(gpujs, 0, 4).gradients, one.gradients)
  })

  it("stays finite and ordered for sizes far beyond any machine", () => {
    const huge = estimateMemory(configOf({ model: { dim: 2 ** 31 - 2, heads: 1, layers: 2 ** 31 - 1 } }), 0)
    assert.isTrue(Number.isFinite(huge.total))
    assert.isAbove(huge.total, 2 ** 70)
  })
})

describe("checkRunSize", () => {
  const reference = defaultRunConfig()
  const check = (input: Record<string, unknown>, bytes: number) => {
    const config = configOf(input)
    return Effect.runSync(
      Effect.flip(checkRunSize(config, estimateMemory(config, 0), { bytes, origin: "flag" }, reference)).pipe(
        Effect.orElseSucceed(() => undefined)
      )
    )
  }

  it("accepts the reference run on 1 GiB and names the grown fields when the budget is exceeded", () => {
    assert.isUndefined(check({}, 2 ** 30))
    const error = check({ model: { dim: 4096, layers: 4 } }, 2 ** 30)
    assert.instanceOf(error, RunTooLarge)
    assert.strictEqual(error!.fields, "model.dim 4096, model.layers 4")
    assert.match(
      error!.message,
      /^model\.dim 4096, model\.layers 4 need ~[\d.]+ GiB \(parameters .*\); --max-memory is 1\.0 GiB$/
    )
    assert.match(check({}, 2 ** 20)!.message, /^the reference sizes need ~/)
  })

  it("refuses a tensor that holds more values than a typed array may index, whatever the budget", () => {
    const error = check({ model: { dim: 65536, heads: 64 } }, 2 ** 60)
    assert.instanceOf(error, RunTooLarge)
    assert.strictEqual(error!.fields, "model.dim × model.dim")
    assert.include(error!.message, `more than the ${MAX_TENSOR_VALUES} one tensor may hold`)
  })
})

describe("parseByteSize", () => {
  it("reads bytes and binary or decimal units, refusing anything else", () => {
    assert.strictEqual(parseByteSize("1048576"), 1048576)
    assert.strictEqual(parseByteSize("4GiB"), 4 * 2 ** 30)
    assert.strictEqual(parseByteSize("4g"), 4 * 2 ** 30)
    assert.strictEqual(parseByteSize("512 MiB"), 512 * 2 ** 20)
    assert.strictEqual(parseByteSize("2GB"), 2e9)
    assert.strictEqual(parseByteSize("1.5KiB"), 1536)
    for (const bad of ["", "0", "-1", "4x", "GiB", "1e3", "4 GiB extra"]) assert.isUndefined(parseByteSize(bad), bad)
  })
})
