import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import { makeCpuKernels } from "../../src/kernels/cpu/index.ts"
import { uniform } from "../../src/tensor/rng.ts"

/*
 * Float32 attention runs its products on the WebAssembly matmul (float32 accumulation); the
 * float64 path is the TypeScript gemm (float64 accumulation), exact enough to be the truth.
 * Tolerances: scores are sums of hd float32 products (error ≈ hd·2⁻²⁴·|q||k|), probabilities
 * lie in [0, 1] and outputs are convex combinations of v, so forward errors stay near 1e-6
 * absolute; the backward's products sum over T and hd terms and the softmax backward subtracts
 * a row sum, so its bound is relative to the largest reference gradient.
 */

const k = makeCpuKernels()

const f32 = (n: number, stream: number, range: number): Float32Array => {
  const out = new Float32Array(n)
  for (let i = 0; i < n; i++) out[i] = range * (2 * uniform(17, stream, i) - 1)
  return out
}

const maxAbs = (x: ArrayLike<number>): number => {
  let m = 0
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]))
  return m
}

const assertNear = (what: string, got: ArrayLike<number>, want: ArrayLike<number>, bound: number): void => {
  for (let i = 0; i < want.length; i++) {
    if (!(Math.abs(got[i] - want[i]) <= bound)) assert.fail(`${what}[${i}]: got ${got[i]}, want ${want[i]} ± ${bound}`)
  }
}

describe("float32 attention on the WebAssembly matmul", () => {
  it("forward and backward match the float64 TypeScript path on random shapes (property)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 0, max: 10_000 }),
        (B, T, H, hd, seed) => {
          const n = B * T * H * hd
          const q = f32(n, seed, 2)
          const kk = f32(n, seed + 1, 2)
          const v = f32(n, seed + 2, 1)
          const dOut = f32(n, seed + 3, 1)
          const probs = new Float32Array(B * H * T * T).fill(7)
          const out = new Float32Array(n)
          k.attention(q, kk, v, probs, out, B, T, H, hd)
          const q64 = Float64Array.from(q)
          const k64 = Float64Array.from(kk)
          const v64 = Float64Array.from(v)
          const probs64 = new Float64Array(B * H * T * T)
          const out64 = new Float64Array(n)
          k.attention(q64, k64, v64, probs64, out64, B, T, H, hd)
          assertNear("probs", probs, probs64, 1e-5)
          assertNear("out", out, out64, 1e-5)

          const grads = [new Float32Array(n).fill(3), new Float32Array(n).fill(3), new Float32Array(n).fill(3)]
          k.attentionBackward(q, kk, v, probs, dOut, grads[0], grads[1], grads[2], B, T, H, hd)
          const grads64 = [new Float64Array(n), new Float64Array(n), new Float64Array(n)]
          // Same float32 probabilities on both sides, so only the products' accuracy is compared.
          k.attentionBackward(
            q64,
            k64,
            v64,
            Float64Array.from(probs),
            Float64Array.from(dOut),
            grads64[0],
            grads64[1],
            grads64[2],
            B,
            T,
            H,
            hd
          )
          for (const [i, name] of ["dq", "dk", "dv"].entries()) {
            assertNear(name, grads[i], grads64[i], 1e-5 * Math.max(1, maxAbs(grads64[i])))
          }
        }
      ),
      { numRuns: 60 }
    )
  })
})
