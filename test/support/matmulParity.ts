/**
 * Parity of a float32 matmul with a float64 reference, shared by test/kernels/wasmMatmul.test.ts
 * and test/support/fmaMatmulChild.ts (which runs it in a node with relaxed SIMD enabled).
 */
import * as fc from "fast-check"
import type { WasmMatmul } from "../../src/kernels/cpu/wasm/matmulWasm.ts"
import { uniform } from "../../src/tensor/rng.ts"

export const f32 = (n: number, stream: number): Float32Array => {
  const out = new Float32Array(n)
  for (let i = 0; i < n; i++) out[i] = 2 * uniform(11, stream, i) - 1
  return out
}

/**
 * The float64 product (exact enough to serve as the truth for float32 inputs) and, per entry,
 * `|c0| + Σ_p |op(A)[i, p]·op(B)[p, j]|`, the scale of the rounding error of any summation order.
 */
export const reference = (
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
 * the scale (k additions and one rounding per product; the bound of recursive summation). A fused
 * multiply-add skips the product's rounding, so the bound holds for it too.
 */
export const assertClose = (
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
      throw new Error(
        `entry ${i}: got ${got[i]}, want ${value[i]} ± ${bound} (m=${m} n=${n} k=${k} ta=${ta} tb=${tb})`
      )
    }
  }
}

/** One product of random operands through `matmul`, checked against the reference. */
export const checkProduct = (
  matmul: WasmMatmul,
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
  matmul(a, b, c, m, n, k, ta, tb, acc)
  assertClose(c, a, b, acc ? c0 : undefined, m, n, k, ta, tb)
}

/** Ragged sizes 1..70 in every transpose combination, with and without accumulation (property). */
export const checkRaggedSizes = (matmul: WasmMatmul, numRuns: number): void =>
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 70 }),
      fc.integer({ min: 1, max: 70 }),
      fc.integer({ min: 1, max: 70 }),
      fc.boolean(),
      fc.boolean(),
      fc.boolean(),
      fc.integer({ min: 0, max: 10_000 }),
      (m, n, k, ta, tb, acc, seed) => checkProduct(matmul, m, n, k, ta, tb, acc, seed)
    ),
    { numRuns }
  )

/** A long shared dimension (several blocks, a ragged last one) and the model's skinny shapes. */
export const checkBlockedAndSkinny = (matmul: WasmMatmul): void => {
  for (const [ta, tb] of [[false, false], [false, true], [true, false], [true, true]] as const) {
    checkProduct(matmul, 13, 19, 700, ta, tb, false, 1)
    checkProduct(matmul, 13, 19, 700, ta, tb, true, 2)
  }
  checkProduct(matmul, 6, 8, 512, false, false, true, 3)
  // a linear layer of the default model (rows = B·T = 1024, d = 64, f = 176): forward, dx, dW
  checkProduct(matmul, 1024, 176, 64, false, true, false, 4)
  checkProduct(matmul, 1024, 64, 176, false, false, true, 5)
  checkProduct(matmul, 176, 64, 1024, true, false, true, 6)
}
