import { assert, describe, it } from "@effect/vitest"
import { ShapeError } from "../../src/autograd/errors.ts"
import { attention, rope } from "../../src/autograd/ops/attention.ts"
import { add, mul, silu } from "../../src/autograd/ops/elementwise.ts"
import { embedding } from "../../src/autograd/ops/embedding.ts"
import { linear, matmul } from "../../src/autograd/ops/linalg.ts"
import { crossEntropy } from "../../src/autograd/ops/loss.ts"
import { rmsnorm } from "../../src/autograd/ops/norm.ts"
import { Tape } from "../../src/autograd/tape.ts"
import { makeCpuKernels } from "../../src/kernels/cpu/index.ts"
import { checkGraph, type OpInput, randomArray } from "./helpers.ts"

const cpuKernels = makeCpuKernels()

// Every op's analytic gradient must agree with central finite differences (ε = 1e-6, float64)
// to a relative error below TOL, where the error is |a − n| / max(|a| + |n|, 1e-3) (the floor keeps
// near-zero entries from being judged on rounding noise: there the absolute error must be < 1e-9).
const TOL = 1e-6

let stream = 1
const input = (shape: ReadonlyArray<number>, lo = -1, hi = 1): OpInput => ({
  shape,
  data: randomArray(shape.reduce((a, b) => a * b, 1), stream++, lo, hi)
})

const expectClose = (result: ReturnType<typeof checkGraph>): void => {
  assert.isAbove(result.checked, 0)
  assert.isBelow(result.maxRelError, TOL, JSON.stringify(result.worst))
}

describe("op gradients agree with finite differences (float64, rel. error < 1e-6)", () => {
  it("matmul", () => {
    expectClose(checkGraph([input([3, 5]), input([5, 4])], (t, [a, b]) => matmul(t, a, b)))
  })

  it("matmul of a matrix with itself (gradient accumulation)", () => {
    expectClose(checkGraph([input([4, 4])], (t, [a]) => matmul(t, a, a)))
  })

  it("linear over a 3-d input, weight [out, in]", () => {
    expectClose(checkGraph([input([2, 3, 5]), input([7, 5])], (t, [x, w]) => linear(t, x, w)))
  })

  it("linear with tile-sized and ragged shapes", () => {
    expectClose(checkGraph([input([19, 9]), input([17, 9])], (t, [x, w]) => linear(t, x, w)))
  })

  it("linear with one weight used twice (accumulated weight gradient)", () => {
    expectClose(
      checkGraph(
        [input([3, 4]), input([3, 4]), input([5, 4])],
        (t, [x, y, w]) => add(t, linear(t, x, w), linear(t, y, w))
      )
    )
  })

  it("add, mul and reuse of one input", () => {
    expectClose(checkGraph([input([6]), input([6])], (t, [a, b]) => add(t, mul(t, a, b), mul(t, a, a))))
  })

  it("silu", () => {
    expectClose(checkGraph([input([10], -4, 4)], (t, [x]) => silu(t, x)))
  })

  it("rmsnorm (input and weight)", () => {
    expectClose(checkGraph([input([4, 6]), input([6], 0.5, 1.5)], (t, [x, w]) => rmsnorm(t, x, w, 1e-5)))
  })

  it("rmsnorm applied twice to the same input", () => {
    expectClose(
      checkGraph(
        [input([3, 4]), input([4]), input([4])],
        (t, [x, w1, w2]) => add(t, rmsnorm(t, x, w1, 1e-5), rmsnorm(t, x, w2, 1e-5))
      )
    )
  })

  it("rope", () => {
    const layout = { batch: 2, seqLen: 3, heads: 2, headDim: 4 }
    expectClose(checkGraph([input([2, 3, 2, 4])], (t, [x]) => rope(t, x, layout, 10000)))
  })

  it("rope feeding two consumers (accumulated inverse rotation)", () => {
    const layout = { batch: 1, seqLen: 4, heads: 1, headDim: 6 }
    expectClose(checkGraph([input([4, 6])], (t, [x]) => {
      const y = rope(t, x, layout, 100)
      return add(t, y, mul(t, y, x))
    }))
  })

  it("causal attention (q, k, v)", () => {
    const layout = { batch: 2, seqLen: 4, heads: 2, headDim: 3 }
    expectClose(
      checkGraph(
        [input([2, 4, 2, 3]), input([2, 4, 2, 3]), input([2, 4, 2, 3])],
        (t, [q, k, v]) => attention(t, q, k, v, layout)
      )
    )
  })

  it("causal attention over several tiles (T = 11, hd = 4)", () => {
    const layout = { batch: 1, seqLen: 11, heads: 2, headDim: 4 }
    expectClose(
      checkGraph([input([11, 8]), input([11, 8]), input([11, 8])], (t, [q, k, v]) => attention(t, q, k, v, layout))
    )
  })

  it("attention with q = k = v (accumulated gradients)", () => {
    const layout = { batch: 1, seqLen: 5, heads: 2, headDim: 2 }
    expectClose(checkGraph([input([5, 4])], (t, [x]) => attention(t, x, x, x, layout)))
  })

  it("embedding with repeated ids", () => {
    const ids = Int32Array.from([2, 0, 2, 3, 2])
    expectClose(checkGraph([input([4, 3])], (t, [table]) => embedding(t, table, ids)))
  })

  it("cross-entropy as the root, with a gradient scale", () => {
    const targets = Int32Array.from([1, 4, 0])
    expectClose(checkGraph([input([3, 5], -3, 3)], (t, [logits]) => {
      const loss = crossEntropy(t, logits, targets, 1)
      return loss.node
    }))
  })

  it("cross-entropy inside a larger graph", () => {
    const targets = Int32Array.from([2, 2])
    expectClose(checkGraph([input([2, 4]), input([3, 4])], (t, [x, w]) => {
      const logits = linear(t, x, w)
      const loss = crossEntropy(t, logits, targets, 1)
      return add(t, loss.node, loss.node)
    }))
  })

  it("reports shape mismatches with a typed error naming both shapes", () => {
    const t = new Tape(cpuKernels, "f64")
    const x = t.leaf([2, 3], new Float64Array(6))
    const w = t.leaf([4, 5], new Float64Array(20))
    try {
      linear(t, x, w)
      assert.fail("expected a ShapeError")
    } catch (e) {
      assert.instanceOf(e, ShapeError)
      assert.strictEqual(e.op, "linear")
      assert.strictEqual(e.actual, "[2, 3]")
      assert.include(e.expected, "5")
    }
  })
})

describe("cross-entropy gradient scale", () => {
  it("dLogits are scaled by gradScale and the loss is the float64 sum", () => {
    const logits = randomArray(12, 77, -2, 2)
    const targets = Int32Array.from([0, 3, 1])
    const grads = [1, 0.25].map((scale) => {
      const t = new Tape(cpuKernels, "f64")
      const x = t.leaf([3, 4], logits)
      const loss = crossEntropy(t, x, targets, scale)
      t.backward(loss.node)
      return { total: loss.total, grad: x.grad!.slice() }
    })
    assert.strictEqual(grads[0].total, grads[1].total)
    for (let i = 0; i < 12; i++) assert.closeTo(grads[1].grad[i], grads[0].grad[i] * 0.25, 1e-15)
  })
})
