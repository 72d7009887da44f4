import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import { makeReferenceAttention } from "../../src/kernels/cpu/attention.ts"
import { makeFlashAttention } from "../../src/kernels/cpu/flashAttention.ts"
import { makeGemm } from "../../src/kernels/cpu/gemm.ts"
import { makeCpuKernels } from "../../src/kernels/cpu/index.ts"
import { uniform } from "../../src/tensor/rng.ts"

/*
 * The fused causal attention (online softmax, one log-sum-exp saved per row, probabilities
 * recomputed in the backward) against the reference that stores the probabilities, run in
 * float64 (the TypeScript gemm, float64 accumulation: exact enough to be the truth).
 *
 * Tolerances. float32 (the cpu backend's path: WebAssembly SIMD where T is a multiple of 8 and hd
 * of 4, TypeScript otherwise): scores are sums of hd float32 products (error ≈ hd·2⁻²⁴·|q||k|),
 * exp is a polynomial good to a few ulp, outputs are convex combinations of v accumulated in
 * float32, so forward errors stay near 1e-6 absolute — bound 1e-5, and 1e-5 on the log-sum-exp.
 * The backward sums over T and hd terms and subtracts D = rowsum(dO ⊙ O), so its bound is 1e-5
 * relative to the largest reference gradient (and at least 1e-5 absolute). float64 (the
 * TypeScript kernel on float64 arrays): only the order of additions differs from the reference,
 * bound 1e-12 relative.
 */

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

/** The reference in float64 from float32 inputs: out, the probabilities, dq, dk, dv. */
const reference = (
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  dOut: Float32Array,
  B: number,
  T: number,
  H: number,
  hd: number
) => {
  const ref = makeReferenceAttention(makeGemm())
  const n = B * T * H * hd
  const probs = new Float64Array(B * H * T * T)
  const out = new Float64Array(n)
  const [q64, k64, v64] = [Float64Array.from(q), Float64Array.from(k), Float64Array.from(v)]
  ref.forward(q64, k64, v64, probs, out, B, T, H, hd)
  const grads = [new Float64Array(n), new Float64Array(n), new Float64Array(n)] as const
  ref.backward(q64, k64, v64, probs, Float64Array.from(dOut), grads[0], grads[1], grads[2], B, T, H, hd)
  return { out, probs, grads }
}

/** log Σ_{j≤i} exp(q_i·k_j/√hd) per row [B, H, T], in float64. */
const logSumExp = (q: Float32Array, k: Float32Array, B: number, T: number, H: number, hd: number): Float64Array => {
  const lse = new Float64Array(B * H * T)
  const stride = H * hd
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      for (let i = 0; i < T; i++) {
        const s: Array<number> = []
        for (let j = 0; j <= i; j++) {
          let dot = 0
          for (let d = 0; d < hd; d++) {
            dot += q[b * T * stride + i * stride + h * hd + d] * k[b * T * stride + j * stride + h * hd + d]
          }
          s.push(dot / Math.sqrt(hd))
        }
        const m = Math.max(...s)
        lse[(b * H + h) * T + i] = m + Math.log(s.reduce((acc, x) => acc + Math.exp(x - m), 0))
      }
    }
  }
  return lse
}

/** The cpu backend's float32 attention against the float64 reference, forward and backward. */
const checkFloat32 = (
  kernels: ReturnType<typeof makeCpuKernels>,
  B: number,
  T: number,
  H: number,
  hd: number,
  seed: number
) => {
  const n = B * T * H * hd
  const q = f32(n, seed, 2)
  const k = f32(n, seed + 1, 2)
  const v = f32(n, seed + 2, 1)
  const dOut = f32(n, seed + 3, 1)
  const saved = new Float32Array(kernels.attentionSavedLength(q, B, T, H, hd)).fill(7)
  assert.strictEqual(saved.length, B * H * T)
  const out = new Float32Array(n).fill(5)
  kernels.attention(q, k, v, saved, out, B, T, H, hd)
  const want = reference(q, k, v, dOut, B, T, H, hd)
  assertNear("out", out, want.out, 1e-5)
  assertNear("lse", saved, logSumExp(q, k, B, T, H, hd), 1e-5)
  const grads = [new Float32Array(n).fill(3), new Float32Array(n).fill(3), new Float32Array(n).fill(3)]
  kernels.attentionBackward(q, k, v, out, saved, dOut, grads[0], grads[1], grads[2], B, T, H, hd)
  for (const [i, name] of ["dq", "dk", "dv"].entries()) {
    assertNear(name, grads[i], want.grads[i], 1e-5 * Math.max(1, maxAbs(want.grads[i])))
  }
}

describe("fused causal attention", () => {
  const kernels = makeCpuKernels()

  it("float32 matches the float64 reference on random shapes, forward and backward (property)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 0, max: 10_000 }),
        (B, T, H, hd, seed) => checkFloat32(kernels, B, T, H, hd, seed)
      ),
      { numRuns: 60 }
    )
  })

  it("float32 matches the float64 reference where the WebAssembly kernel runs: T a multiple of 8, hd of 4 (property)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2 }),
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 10 }),
        fc.integer({ min: 0, max: 10_000 }),
        (B, T8, H, hd4, seed) => checkFloat32(kernels, B, 8 * T8, H, 4 * hd4, seed)
      ),
      { numRuns: 40 }
    )
  })

  it("float32 stays accurate where scores are large (the running max moves within a row)", () => {
    // Inputs of range 2 give scores up to ±4·hd/√hd: with hd 32, |s| up to ≈ 22.
    checkFloat32(kernels, 1, 128, 2, 32, 4242)
  })

  it("float32 stays accurate over a long window (T = 512: 64 key tiles a row)", () => {
    checkFloat32(kernels, 1, 512, 1, 8, 77)
  })

  it("the TypeScript kernel in float64 equals the reference up to the order of additions (property)", () => {
    const flash = makeFlashAttention()
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2 }),
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 0, max: 10_000 }),
        (B, T, H, hd, seed) => {
          const n = B * T * H * hd
          const [q, k, v, dOut] = [f32(n, seed, 2), f32(n, seed + 1, 2), f32(n, seed + 2, 1), f32(n, seed + 3, 1)]
          const want = reference(q, k, v, dOut, B, T, H, hd)
          const lse = new Float64Array(B * H * T)
          const out = new Float64Array(n)
          const [q64, k64, v64] = [Float64Array.from(q), Float64Array.from(k), Float64Array.from(v)]
          flash.forward(q64, k64, v64, lse, out, B, T, H, hd)
          assertNear("out", out, want.out, 1e-12)
          assertNear("lse", lse, logSumExp(q, k, B, T, H, hd), 1e-12)
          const grads = [new Float64Array(n).fill(3), new Float64Array(n).fill(3), new Float64Array(n).fill(3)]
          flash.backward(q64, k64, v64, out, lse, Float64Array.from(dOut), grads[0], grads[1], grads[2], B, T, H, hd)
          for (const [i, name] of ["dq", "dk", "dv"].entries()) {
            assertNear(name, grads[i], want.grads[i], 1e-12 * Math.max(1, maxAbs(want.grads[i])))
          }
        }
      ),
      { numRuns: 40 }
    )
  })

  it("float64 calls keep the reference: the probabilities [B, H, T, T] are saved", () => {
    assert.strictEqual(kernels.attentionSavedLength(new Float64Array(0), 2, 5, 3, 4), 2 * 3 * 5 * 5)
  })
})
