/**
 * The WebAssembly AdamW, SGD and embedding kernels (params.wat) give exactly the TypeScript kernels'
 * bits: the tolerance is zero, so moving them into wasm cannot change a float32 trajectory.
 */
import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import { readFileSync } from "node:fs"
import { buildParamsModule, paramsGeneratedPath } from "../../scripts/build-wasm.ts"
import { embedding, embeddingBackward } from "../../src/kernels/cpu/embedding.ts"
import { makeCpuKernels } from "../../src/kernels/cpu/index.ts"
import { adamw, sgd } from "../../src/kernels/cpu/update.ts"
import { makeWasmParams } from "../../src/kernels/cpu/wasm/paramsWasm.ts"
import { uniform } from "../../src/tensor/rng.ts"

const wasm = makeWasmParams()

const f32 = (n: number, stream: number, scale = 1): Float32Array => {
  const out = new Float32Array(n)
  for (let i = 0; i < n; i++) out[i] = scale * (2 * uniform(13, stream, i) - 1)
  return out
}
const bitsOf = (x: Float32Array): Uint32Array => new Uint32Array(x.buffer, x.byteOffset, x.length)
const assertSameBits = (got: Float32Array, want: Float32Array, what: string): void => {
  const a = bitsOf(got)
  const b = bitsOf(want)
  assert.strictEqual(a.length, b.length, `${what}: length`)
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) assert.fail(`${what}[${i}]: got ${got[i]}, want ${want[i]}`)
  }
}

describe("wasm AdamW, SGD and embedding", () => {
  it("AdamW gives update.ts's bits for parameters, moments and squares (property: sizes, hyper-parameters, steps)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 300 }),
        fc.integer({ min: 1, max: 2000 }),
        fc.constantFrom(0, 0.1, 0.01),
        fc.double({ min: 1e-5, max: 1e-1, noNaN: true }),
        fc.integer({ min: 0, max: 10_000 }),
        (n, step, weightDecay, lr, seed) => {
          const param = f32(n, seed)
          const grad = f32(n, seed + 1, 10)
          const m = f32(n, seed + 2, 0.1)
          const v = f32(n, seed + 3, 0.01).map(Math.abs)
          const want = [param.slice(), m.slice(), v.slice()] as const
          adamw(want[0], grad, want[1], want[2], lr, 0.9, 0.95, 1e-8, weightDecay, step)
          wasm.adamw(param, grad, m, v, lr, 0.9, 0.95, 1e-8, weightDecay, step)
          assertSameBits(param, want[0], "param")
          assertSameBits(m, want[1], "m")
          assertSameBits(v, want[2], "v")
        }
      ),
      { numRuns: 150 }
    )
  })

  it("AdamW over a whole reference-model matrix, with zero gradients and zero state (the first step)", () => {
    const n = 176 * 64
    const param = f32(n, 40, 0.02)
    const grad = f32(n, 41, 1e-3)
    grad.fill(0, 0, 100)
    const m = new Float32Array(n)
    const v = new Float32Array(n)
    const want = [param.slice(), m.slice(), v.slice()] as const
    adamw(want[0], grad, want[1], want[2], 3e-3, 0.9, 0.95, 1e-8, 0.1, 1)
    wasm.adamw(param, grad, m, v, 3e-3, 0.9, 0.95, 1e-8, 0.1, 1)
    assertSameBits(param, want[0], "param")
    assertSameBits(m, want[1], "m")
    assertSameBits(v, want[2], "v")
  })

  it("SGD gives update.ts's bits for parameters and momentum buffers (property: sizes, momentum, Nesterov, decay, steps)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 300 }),
        fc.integer({ min: 1, max: 4 }),
        fc.constantFrom(0, 0.9, 0.5),
        fc.boolean(),
        fc.constantFrom(0, 0.1, 0.01),
        fc.double({ min: 1e-5, max: 1, noNaN: true }),
        fc.integer({ min: 0, max: 10_000 }),
        (n, step, momentum, nesterov, weightDecay, lr, seed) => {
          const param = f32(n, seed)
          const grad = f32(n, seed + 1, 10)
          const buf = f32(n, seed + 2, 3)
          const want = [param.slice(), buf.slice()] as const
          sgd(want[0], grad, want[1], lr, momentum, nesterov, weightDecay, step)
          wasm.sgd(param, grad, buf, lr, momentum, nesterov, weightDecay, step)
          assertSameBits(param, want[0], "param")
          assertSameBits(buf, want[1], "buf")
        }
      ),
      { numRuns: 200 }
    )
  })

  it("the cpu backend's SGD gives the wasm kernel's bits for float32 and update.ts's values for float64", () => {
    const k = makeCpuKernels()
    const param = f32(13, 70)
    const grad = f32(13, 71)
    const buf = f32(13, 72)
    const want = [param.slice(), buf.slice()] as const
    wasm.sgd(want[0], grad, want[1], 1e-2, 0.9, true, 0.1, 2)
    k.sgd(param, grad, buf, 1e-2, 0.9, true, 0.1, 2)
    assertSameBits(param, want[0], "param")
    assertSameBits(buf, want[1], "buf")

    const p64 = Float64Array.from(f32(13, 73))
    const g64 = Float64Array.from(f32(13, 74))
    const b64 = Float64Array.from(f32(13, 75))
    const want64 = [p64.slice(), b64.slice()] as const
    sgd(want64[0], g64, want64[1], 1e-2, 0.9, false, 0.1, 3)
    k.sgd(p64, g64, b64, 1e-2, 0.9, false, 0.1, 3)
    assert.deepStrictEqual([...p64], [...want64[0]])
    assert.deepStrictEqual([...b64], [...want64[1]])
  })

  it("the embedding gather and its scatter-add give embedding.ts's bits, repeated ids summed in order (property)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 16 }).map((q) => 4 * q),
        fc.integer({ min: 0, max: 200 }),
        fc.integer({ min: 0, max: 3 }),
        fc.integer({ min: 0, max: 10_000 }),
        (vocab, dim, rows, extra, seed) => {
          // a table longer than vocab·dim by a partial row: only whole rows are addressed
          const table = f32(vocab * dim + extra, seed)
          const ids = Int32Array.from({ length: rows }, (_, i) => Math.floor(uniform(14, seed, i) * vocab))
          const out = new Float32Array(rows * dim)
          const wantOut = new Float32Array(rows * dim)
          embedding(table, ids, wantOut, dim)
          wasm.embedding(table, ids, out, dim)
          assertSameBits(out, wantOut, "out")

          const dOut = f32(rows * dim, seed + 5, 3)
          const dTable = f32(vocab * dim + extra, seed + 6)
          const wantTable = dTable.slice()
          embeddingBackward(dOut, ids, wantTable, dim)
          wasm.embeddingBackward(dOut, ids, dTable, dim)
          assertSameBits(dTable, wantTable, "dTable")
        }
      ),
      { numRuns: 150 }
    )
  })

  it("is what the cpu backend runs for float32; float64 and dimensions not a multiple of 4 keep TypeScript", () => {
    const k = makeCpuKernels()
    const table = f32(10 * 8, 50)
    const ids = Int32Array.from([3, 3, 9, 0, 3])
    const viaBackend = new Float32Array(5 * 8)
    k.embedding(table, ids, viaBackend, 8)
    const viaWasm = new Float32Array(5 * 8)
    wasm.embedding(table, ids, viaWasm, 8)
    assertSameBits(viaBackend, viaWasm, "out")

    const odd = new Float32Array(5 * 6)
    k.embedding(f32(10 * 6, 51), ids, odd, 6)
    const oddWant = new Float32Array(5 * 6)
    embedding(f32(10 * 6, 51), ids, oddWant, 6)
    assertSameBits(odd, oddWant, "dim 6")

    const p64 = Float64Array.from(f32(12, 52))
    const g64 = Float64Array.from(f32(12, 53))
    const m64 = new Float64Array(12)
    const v64 = new Float64Array(12)
    const want = [p64.slice(), m64.slice(), v64.slice()] as const
    adamw(want[0], g64, want[1], want[2], 1e-2, 0.9, 0.95, 1e-8, 0.1, 1)
    k.adamw(p64, g64, m64, v64, 1e-2, 0.9, 0.95, 1e-8, 0.1, 1)
    assert.deepStrictEqual([...p64], [...want[0]])
  })

  it("refuses ids outside the table before touching anything, naming the field", () => {
    const k = makeCpuKernels()
    const out = new Float32Array(2 * 4).fill(7)
    assert.throws(() => k.embedding(f32(3 * 4, 60), Int32Array.from([1, 3]), out, 4), /ids/)
    assert.deepStrictEqual([...out], new Array(8).fill(7))
  })

  it("the committed generated module is what scripts/build-wasm.ts makes from params.wat", async () => {
    assert.strictEqual(readFileSync(paramsGeneratedPath, "utf8"), await buildParamsModule())
  })
})
