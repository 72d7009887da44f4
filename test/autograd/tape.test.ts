import { assert, describe, it } from "@effect/vitest"
import { Arena } from "../../src/autograd/arena.ts"
import { TapeNotRecordingError } from "../../src/autograd/errors.ts"
import { add, mul } from "../../src/autograd/ops/elementwise.ts"
import { linear } from "../../src/autograd/ops/linalg.ts"
import { Tape } from "../../src/autograd/tape.ts"
import { makeCpuKernels } from "../../src/kernels/cpu/index.ts"

const cpuKernels = makeCpuKernels()

describe("Arena", () => {
  it("hands out the same buffers in the same order after a rewind, fresh ones when a size changes", () => {
    const arena = new Arena("f32")
    const first = [arena.take(4), arena.take(8), arena.take(4)]
    assert.notStrictEqual(first[0], first[2])
    arena.rewind()
    const second = [arena.take(4), arena.take(8), arena.take(4)]
    second.forEach((b, i) => assert.strictEqual(b, first[i]))
    arena.rewind()
    assert.strictEqual(arena.take(4), first[0])
    const changed = arena.take(9)
    assert.notStrictEqual(changed, first[1])
    assert.strictEqual(changed.length, 9)
    assert.strictEqual(arena.size, 3)
  })
})

describe("Tape", () => {
  it("overwrites a leaf's gradient buffer on first contribution and adds later ones", () => {
    const t = new Tape(cpuKernels, "f64")
    const grad = Float64Array.from([100, 100])
    const x = t.leaf([2], Float64Array.from([2, 3]), true, grad)
    const y = add(t, mul(t, x, x), x) // dy/dx = 2x + 1
    t.backward(y)
    assert.strictEqual(x.grad, grad)
    assert.deepStrictEqual([...grad], [5, 7])
  })

  it("replays a graph into the same buffers after reset", () => {
    const t = new Tape(cpuKernels, "f32")
    const w = t.leaf([3, 2], Float32Array.from([1, 2, 3, 4, 5, 6]))
    const run = () => {
      t.reset()
      const x = t.leaf([1, 2], Float32Array.from([1, -1]))
      const y = linear(t, x, w)
      t.backward(y)
      return { y: y.value, gx: x.grad! }
    }
    const a = run()
    const values = [...a.y]
    const b = run()
    assert.strictEqual(b.y, a.y)
    assert.strictEqual(b.gx, a.gx)
    assert.deepStrictEqual([...b.y], values)
    assert.deepStrictEqual([...b.y], [-1, -1, -1])
  })

  it("a forward-only tape records nothing and refuses backward with a typed error", () => {
    const t = new Tape(cpuKernels, "f64", false)
    const x = t.leaf([1], Float64Array.from([3]))
    const y = mul(t, x, x)
    assert.isFalse(y.requiresGrad)
    assert.deepStrictEqual([...y.value], [9])
    assert.throws(() => t.backward(y), TapeNotRecordingError)
  })

  it("leaves that do not require gradients get none", () => {
    const t = new Tape(cpuKernels, "f64")
    const x = t.leaf([2], Float64Array.from([1, 2]), false)
    const w = t.leaf([2], Float64Array.from([3, 4]))
    t.backward(mul(t, x, w))
    assert.isNull(x.grad)
    assert.deepStrictEqual([...w.grad!], [1, 2])
  })
})
