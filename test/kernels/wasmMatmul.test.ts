import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import { readFileSync } from "node:fs"
import { buildMatmulModule, matmulGeneratedPath } from "../../scripts/build-wasm.ts"
import { makeCpuKernels } from "../../src/kernels/cpu/index.ts"
import { makeWasmMatmul } from "../../src/kernels/cpu/wasm/matmulWasm.ts"
import { uniform } from "../../src/tensor/rng.ts"

const cpuKernels = makeCpuKernels()
const matmulWasm = makeWasmMatmul()

const f32 = (n: number, stream: number): Float32Array => {
  const out = new Float32Array(n)
  for (let i = 0; i < n; i++) out[i] = 2 * uniform(11, stream, i) - 1
  return out
}

/**
 * The float64 product (exact enough to serve as the truth for float32 inputs) and, per entry,
 * `|c0| + Σ_p |op(A)[i, p]·op(B)[p, j]|`, the scale of the rounding error of any summation order.
 */
const reference = (
  a: Float32Array,
  b: Float32Array,
  c0: Float32Array | undefined,
  m: number,
  n: number,
  k: number,
  ta: boolean,
  tb: boolean
): { value: Float64Array; scale: Float64Array } => {
  const value = new Float64Array(m * n)
  const scale = new Float64Array(m * n)
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = c0 === undefined ? 0 : c0[i * n + j]
      let t = Math.abs(s)
      for (let p = 0; p < k; p++) {
        const x = (ta ? a[p * m + i] : a[i * k + p]) * (tb ? b[j * k + p] : b[p * n + j])
        s += x
        t += Math.abs(x)
      }
      value[i * n + j] = s
      scale[i * n + j] = t
    }
  }
  return { value, scale }
}

/**
 * Float32 summation of k products onto C, in any order, errs by at most about (k + 2)·2⁻²⁴ times
 * the scale (k additions and one rounding per product; the bound of recursive summation).
 */
const assertClose = (
  got: Float32Array,
  a: Float32Array,
  b: Float32Array,
  c0: Float32Array | undefined,
  m: number,
  n: number,
  k: number,
  ta: boolean,
  tb: boolean
): void => {
  const { value, scale } = reference(a, b, c0, m, n, k, ta, tb)
  const unit = (k + 2) * 2 ** -24
  for (let i = 0; i < m * n; i++) {
    const bound = unit * scale[i] + 1e-30
    if (!(Math.abs(got[i] - value[i]) <= bound)) {
      assert.fail(`entry ${i}: got ${got[i]}, want ${value[i]} ± ${bound} (m=${m} n=${n} k=${k} ta=${ta} tb=${tb})`)
    }
  }
}

const run = (
  m: number,
  n: number,
  k: number,
  ta: boolean,
  tb: boolean,
  acc: boolean,
  seed: number
): void => {
  const a = f32(m * k, seed)
  const b = f32(k * n, seed + 1)
  const c0 = f32(m * n, seed + 2)
  const c = c0.slice()
  matmulWasm(a, b, c, m, n, k, ta, tb, acc)
  assertClose(c, a, b, acc ? c0 : undefined, m, n, k, ta, tb)
}

const bitsOf = (x: Float32Array): Uint32Array => new Uint32Array(x.buffer, x.byteOffset, x.length)

describe("wasm SIMD matmul", () => {
  it("matches a float64 reference for every transpose combination, accumulate and ragged sizes 1..70 (property)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 70 }),
        fc.integer({ min: 1, max: 70 }),
        fc.integer({ min: 1, max: 70 }),
        fc.boolean(),
        fc.boolean(),
        fc.boolean(),
        fc.integer({ min: 0, max: 10_000 }),
        (m, n, k, ta, tb, acc, seed) => run(m, n, k, ta, tb, acc, seed)
      ),
      { numRuns: 200 }
    )
  })

  it("blocks a long shared dimension (several blocks, a ragged last one) without losing accuracy", () => {
    for (const [ta, tb] of [[false, false], [false, true], [true, false], [true, true]] as const) {
      run(13, 19, 700, ta, tb, false, 1)
      run(13, 19, 700, ta, tb, true, 2)
    }
    run(6, 8, 512, false, false, true, 3)
  })

  it("is deterministic: the same inputs give the same bits, whatever ran in between", () => {
    const [m, n, k] = [37, 29, 300]
    const a = f32(m * k, 20)
    const b = f32(n * k, 21)
    const first = new Float32Array(m * n)
    matmulWasm(a, b, first, m, n, k, false, true, false)
    // a larger product in between grows and overwrites the module's memory
    matmulWasm(f32(200 * 300, 22), f32(300 * 150, 23), new Float32Array(200 * 150), 200, 150, 300, true, false, false)
    const second = new Float32Array(m * n)
    matmulWasm(a, b, second, m, n, k, false, true, false)
    assert.deepStrictEqual(bitsOf(second), bitsOf(first))
  })

  it("reads and writes only the leading m·k, k·n and m·n entries of longer arrays", () => {
    const [m, n, k] = [5, 11, 9]
    const a = f32(m * k + 3, 30)
    const b = f32(k * n + 4, 31)
    const c = new Float32Array(m * n + 5).fill(7)
    matmulWasm(a, b, c, m, n, k, false, false, false)
    assertClose(c.subarray(0, m * n), a.subarray(0, m * k), b.subarray(0, k * n), undefined, m, n, k, false, false)
    assert.deepStrictEqual([...c.subarray(m * n)], [7, 7, 7, 7, 7])
  })

  it("k = 0 gives zeros, or leaves C when accumulating; m = 0 or n = 0 does nothing", () => {
    const c = Float32Array.from([1, 2, 3, 4])
    matmulWasm(new Float32Array(0), new Float32Array(0), c, 2, 2, 0, false, false, true)
    assert.deepStrictEqual([...c], [1, 2, 3, 4])
    matmulWasm(new Float32Array(0), new Float32Array(0), c, 2, 2, 0, false, false, false)
    assert.deepStrictEqual([...c], [0, 0, 0, 0])
    matmulWasm(new Float32Array(0), f32(6, 40), c, 0, 2, 3, false, false, false)
    assert.deepStrictEqual([...c], [0, 0, 0, 0])
  })

  it("is what the cpu backend runs for float32 operands; float64 operands keep the float64 path", () => {
    const [m, n, k] = [23, 17, 41]
    const a = f32(m * k, 50)
    const b = f32(n * k, 51)
    const viaWasm = new Float32Array(m * n)
    matmulWasm(a, b, viaWasm, m, n, k, true, true, false)
    const viaBackend = new Float32Array(m * n)
    cpuKernels.matmul(a, b, viaBackend, m, n, k, true, true, false)
    assert.deepStrictEqual(bitsOf(viaBackend), bitsOf(viaWasm))

    const c64 = new Float64Array(m * n)
    cpuKernels.matmul(Float64Array.from(a), Float64Array.from(b), c64, m, n, k, true, true, false)
    const { value } = reference(a, b, undefined, m, n, k, true, true)
    for (let i = 0; i < m * n; i++) assert.isBelow(Math.abs(c64[i] - value[i]), 1e-13)
  })

  it("the committed generated module is what scripts/build-wasm.ts makes from matmul.wat", async () => {
    assert.strictEqual(readFileSync(matmulGeneratedPath, "utf8"), await buildMatmulModule())
  })
})
