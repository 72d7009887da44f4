import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import { readFileSync } from "node:fs"
import { buildVectorModule, vectorGeneratedPath } from "../../scripts/build-wasm.ts"
import * as ts from "../../src/kernels/cpu/elementwise.ts"
import { makeCpuKernels } from "../../src/kernels/cpu/index.ts"
import * as tsLoss from "../../src/kernels/cpu/loss.ts"
import * as tsNorm from "../../src/kernels/cpu/norm.ts"
import { makeRope, makeRopeTables } from "../../src/kernels/cpu/rope.ts"
import { makeWasmVector } from "../../src/kernels/cpu/wasm/vectorWasm.ts"
import { uniform } from "../../src/tensor/rng.ts"

/*
 * Parity of the float32 WebAssembly kernels (what makeCpuKernels runs for float32 operands)
 * with the TypeScript kernels run in float64 on the same float32 values, which serve as the
 * truth. Tolerances, and why:
 * - add, mul, addInPlace: the float32 sum or product of two floats rounded once, which is what
 *   the TypeScript kernel's double result rounded to float32 gives: bit-identical to the
 *   TypeScript float32 kernel.
 * - scale, RoPE: computed in double in the TypeScript kernel's order and rounded once when
 *   stored: bit-identical to the TypeScript float32 kernel.
 * - silu: exp to a few ulp plus two roundings: relative 1e-5 (float32 ulp is 6e-8). Below
 *   |x| ≈ 87 exp is clamped, so tiny outputs (|silu| < 1e-30) are compared absolutely.
 * - siluBackward: 1 + x(1 − σ) crosses zero near x ≈ −1.28, so the error is bounded relative to
 *   the size of its terms, |dy|·σ·(1 + |x|(1 − σ)), not to the result.
 * - RMSNorm and its backward compute in float64 like the TypeScript kernel (so that activations
 *   whose squares overflow float32 behave as in the reference); only the order of the row sums
 *   differs, so each result is the float64 value rounded once: relative 2⁻²³, plus 1e-12 of the
 *   terms' magnitudes for results that cancel; dw, accumulated over rows in float32, to one
 *   rounding per row.
 * - cross-entropy: a reduction of float32 exps, summed in float64 lanes: relative 1e-5 of the
 *   entry (the exp's error), and the loss to 1e-5 per row.
 */

const k = makeCpuKernels()

const f32 = (n: number, stream: number, lo = -1, hi = 1): Float32Array => {
  const out = new Float32Array(n)
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * uniform(13, stream, i)
  return out
}
/** Floats of magnitudes spread over 2^±40, both signs (sums and products that lose bits to rounding). */
const wide = (n: number, stream: number): Float32Array => {
  const out = new Float32Array(n)
  for (let i = 0; i < n; i++) {
    out[i] = (2 * uniform(17, stream, i) - 1) * 2 ** Math.round(80 * uniform(19, stream, i) - 40)
  }
  return out
}
const f64 = (x: Float32Array): Float64Array => Float64Array.from(x)
const bitsOf = (x: Float32Array): Uint32Array => new Uint32Array(x.buffer, x.byteOffset, x.length)

const assertWithin = (what: string, got: ArrayLike<number>, want: ArrayLike<number>, bound: (i: number) => number) => {
  for (let i = 0; i < want.length; i++) {
    const b = bound(i)
    if (!(Math.abs(got[i] - want[i]) <= b)) assert.fail(`${what}[${i}]: got ${got[i]}, want ${want[i]} ± ${b}`)
  }
}

const r0 = (rstd: Float32Array): number => Math.max(...rstd)
const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x))

describe("wasm SIMD vector kernels (float32) against the TypeScript kernels", () => {
  it("add and mul are bit-identical to the TypeScript float32 kernels, ragged lengths, output aliasing an input (property)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 70 }), fc.integer({ min: 0, max: 10_000 }), (n, seed) => {
        const a = f32(n, seed, -100, 100)
        const b = f32(n, seed + 1, -100, 100)
        for (const [wasm, ref] of [[k.add, ts.add], [k.mul, ts.mul]] as const) {
          const got = new Float32Array(n)
          const want = new Float32Array(n)
          wasm(a, b, got)
          ref(a, b, want)
          assert.deepStrictEqual(bitsOf(got), bitsOf(want))
          const aliased = a.slice()
          wasm(aliased, b, aliased)
          assert.deepStrictEqual(bitsOf(aliased), bitsOf(want))
        }
      }),
      { numRuns: 100 }
    )
  })

  it("scale and addInPlace are bit-identical to the TypeScript float32 kernels, ragged lengths, aliasing (property)", () => {
    const wasm = makeWasmVector()
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 70 }),
        fc.double({ noNaN: true, noDefaultInfinity: true }),
        fc.integer({ min: 0, max: 10_000 }),
        (n, s, seed) => {
          const x = wide(n, seed)
          const want = new Float32Array(n)
          ts.scale(x, s, want)
          const direct = new Float32Array(n)
          wasm.scale(x, s, direct, n)
          assert.deepStrictEqual(bitsOf(direct), bitsOf(want))
          const aliased = x.slice()
          k.scale(aliased, s, aliased)
          assert.deepStrictEqual(bitsOf(aliased), bitsOf(want))

          const src = wide(n, seed + 1)
          const dst = wide(n, seed + 2)
          const wantSum = dst.slice()
          ts.addInPlace(wantSum, src)
          k.addInPlace(dst, src)
          assert.deepStrictEqual(bitsOf(dst), bitsOf(wantSum))
        }
      ),
      { numRuns: 200 }
    )
  })

  it("RoPE is bit-identical to rope.ts: forward and inverse, out aliasing x, any head size, rows past T (property)", () => {
    const wasm = makeWasmVector()
    const tables = makeRopeTables()
    const reference = makeRope()
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 30 }),
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 12 }).map((pairs) => 2 * pairs),
        fc.constantFrom(10_000, 500_000, 3.5),
        fc.boolean(),
        fc.integer({ min: 0, max: 10_000 }),
        (rows, T, H, hd, theta, inverse, seed) => {
          const n = rows * H * hd
          const x = wide(n, seed)
          const want = new Float32Array(n)
          reference(x, want, rows, T, H, hd, theta, inverse)
          if (hd % 4 === 0) {
            // The module itself (the backend runs TypeScript for the other head sizes).
            const { cos, sin } = tables(T, hd, theta)
            const direct = new Float32Array(n)
            wasm.rope(x, direct, rows, T, H, hd, cos, sin, inverse)
            assert.deepStrictEqual(bitsOf(direct), bitsOf(want))
          }
          const got = new Float32Array(n)
          k.rope(x, got, rows, T, H, hd, theta, inverse)
          assert.deepStrictEqual(bitsOf(got), bitsOf(want))
          const aliased = x.slice()
          k.rope(aliased, aliased, rows, T, H, hd, theta, inverse)
          assert.deepStrictEqual(bitsOf(aliased), bitsOf(want))
        }
      ),
      { numRuns: 200 }
    )
  })

  it("silu and siluBackward match the float64 reference, with and without accumulation (property)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 70 }),
        fc.double({ min: 0.1, max: 120, noNaN: true }),
        fc.boolean(),
        fc.integer({ min: 0, max: 10_000 }),
        (n, range, accumulate, seed) => {
          const x = f32(n, seed, -range, range)
          const dy = f32(n, seed + 1)
          const out = new Float32Array(n)
          k.silu(x, out)
          const want = new Float64Array(n)
          ts.silu(f64(x), want)
          assertWithin("silu", out, want, (i) => 1e-5 * Math.abs(want[i]) + 1e-30)

          const dx0 = f32(n, seed + 2)
          const dx = dx0.slice()
          k.siluBackward(x, dy, dx, accumulate)
          const wantDx = f64(dx0)
          ts.siluBackward(f64(x), f64(dy), wantDx, accumulate)
          assertWithin("siluBackward", dx, wantDx, (i) => {
            const s = sigmoid(x[i])
            const terms = Math.abs(dy[i]) * s * (1 + Math.abs(x[i]) * (1 - s))
            return 1e-5 * terms + (accumulate ? 2 ** -23 * Math.abs(dx0[i]) : 0) + 1e-30
          })
        }
      ),
      { numRuns: 150 }
    )
  })

  it("RMSNorm forward and backward match the float64 reference on random shapes (property)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 1, max: 40 }),
        fc.boolean(),
        fc.integer({ min: 0, max: 10_000 }),
        (rows, quarter, accumulate, seed) => {
          const dim = 4 * quarter
          const n = rows * dim
          const x = f32(n, seed, -3, 3)
          const w = f32(dim, seed + 1, -2, 2)
          const out = new Float32Array(n)
          const rstd = new Float32Array(rows)
          k.rmsnorm(x, w, out, rstd, rows, dim, 1e-5)
          const wantOut = new Float64Array(n)
          const wantR = new Float64Array(rows)
          tsNorm.rmsnorm(f64(x), f64(w), wantOut, wantR, rows, dim, 1e-5)
          assertWithin("rstd", rstd, wantR, (i) => 2 ** -23 * wantR[i])
          assertWithin("rmsnorm", out, wantOut, (i) => 2 ** -23 * Math.abs(wantOut[i]) + 1e-30)

          // The backward reads rstd as stored, so both sides start from the float32 rstd.
          const dy = f32(n, seed + 2)
          const dx0 = f32(n, seed + 3)
          const dw0 = f32(dim, seed + 4)
          const dx = dx0.slice()
          const dw = dw0.slice()
          k.rmsnormBackward(x, w, rstd, dy, dx, dw, rows, dim, accumulate)
          const wantDx = f64(dx0)
          const wantDw = f64(dw0)
          tsNorm.rmsnormBackward(f64(x), f64(w), f64(rstd), f64(dy), wantDx, wantDw, rows, dim, accumulate)
          assertWithin("rmsnormBackward dx", dx, wantDx, (i) => {
            const row = Math.floor(i / dim)
            const r = rstd[row]
            let dot = 0
            for (let j = 0; j < dim; j++) dot += Math.abs(w[j] * dy[row * dim + j] * x[row * dim + j])
            const terms = Math.abs(r * w[i % dim] * dy[i]) + (r ** 3 * dot / dim) * Math.abs(x[i])
            return 2 ** -23 * Math.abs(wantDx[i]) + 1e-12 * (terms + Math.abs(dx0[i])) + 1e-30
          })
          assertWithin("rmsnormBackward dw", dw, wantDw, (j) => {
            let terms = Math.abs(dw0[j])
            for (let row = 0; row < rows; row++) terms += Math.abs(dy[row * dim + j] * x[row * dim + j] * rstd[row])
            // dw is rounded to float32 after each row, as the float32 TypeScript kernel does
            return (rows + 1) * 2 ** -24 * terms + 1e-30
          })
        }
      ),
      { numRuns: 100 }
    )
  })

  it("cross-entropy matches the float64 reference: loss, and dLogits = (softmax − onehot)·gradScale (property)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10 }),
        fc.integer({ min: 1, max: 80 }),
        fc.double({ min: 0.1, max: 30, noNaN: true }),
        fc.integer({ min: 0, max: 10_000 }),
        (rows, quarter, range, seed) => {
          const vocab = 4 * quarter
          const logits = f32(rows * vocab, seed, -range, range)
          const targets = Int32Array.from({ length: rows }, (_, r) => Math.floor(uniform(14, seed, r) * vocab))
          const gradScale = 1 / rows
          const dLogits = new Float32Array(rows * vocab)
          const loss = k.crossEntropy(logits, targets, dLogits, rows, vocab, gradScale)
          const want = new Float64Array(rows * vocab)
          const wantLoss = tsLoss.crossEntropy(f64(logits), targets, want, rows, vocab, gradScale)
          // log of a sum of float32 exps, each off by a few ulp: about 1e-6 absolute per row
          assert.isAtMost(Math.abs(loss - wantLoss), 1e-5 * rows)
          assertWithin(
            "dLogits",
            dLogits,
            want,
            (i) =>
              1e-5 * Math.abs(want[i] + (targets[Math.floor(i / vocab)] === i % vocab ? gradScale : 0)) +
              2 ** -23 * gradScale
          )
        }
      ),
      { numRuns: 100 }
    )
  })

  it("RMSNorm of activations whose squares overflow float32 stays finite, as in the reference", () => {
    const [rows, dim] = [2, 8]
    const x = f32(rows * dim, 60, 1e25, 1e30)
    const w = f32(dim, 61)
    const out = new Float32Array(rows * dim)
    const rstd = new Float32Array(rows)
    k.rmsnorm(x, w, out, rstd, rows, dim, 1e-5)
    const wantOut = new Float32Array(rows * dim)
    tsNorm.rmsnorm(x, w, wantOut, new Float32Array(rows), rows, dim, 1e-5)
    assertWithin("rmsnorm", out, wantOut, (i) => 2 ** -23 * Math.abs(wantOut[i]))
    const dy = f32(rows * dim, 62, 1e20, 1e25)
    const dx = new Float32Array(rows * dim)
    const dw = new Float32Array(dim)
    k.rmsnormBackward(x, w, rstd, dy, dx, dw, rows, dim, false)
    const wantDx = new Float32Array(rows * dim)
    const wantDw = new Float32Array(dim)
    tsNorm.rmsnormBackward(x, w, rstd, dy, wantDx, wantDw, rows, dim, false)
    assert.isTrue([...dx, ...dw].every(Number.isFinite))
    assertWithin(
      "dx",
      dx,
      wantDx,
      (i) => 2 ** -22 * Math.abs(wantDx[i]) + 1e-6 * Math.abs(r0(rstd) * w[i % dim] * dy[i])
    )
    assertWithin("dw", dw, wantDw, (j) => 2 ** -22 * Math.abs(wantDw[j]))
  })

  it("float64 operands and rows that are not a multiple of 4 floats run the TypeScript kernels, bit for bit", () => {
    const x = f64(f32(30, 1, -5, 5))
    const got = new Float64Array(30)
    const want = new Float64Array(30)
    k.silu(x, got)
    ts.silu(x, want)
    assert.deepStrictEqual(got, want)

    const [rows, dim] = [3, 10]
    const x32 = f32(rows * dim, 2)
    const w32 = f32(dim, 3)
    const out = new Float32Array(rows * dim)
    const rstd = new Float32Array(rows)
    k.rmsnorm(x32, w32, out, rstd, rows, dim, 1e-5)
    const wantOut = new Float32Array(rows * dim)
    const wantR = new Float32Array(rows)
    tsNorm.rmsnorm(x32, w32, wantOut, wantR, rows, dim, 1e-5)
    assert.deepStrictEqual(bitsOf(out), bitsOf(wantOut))
    assert.deepStrictEqual(bitsOf(rstd), bitsOf(wantR))

    const scaled = new Float64Array(30)
    k.scale(x, 1 / 3, scaled)
    assert.deepStrictEqual([...scaled], [...x].map((v) => (1 / 3) * v))
    const rotated = new Float64Array(2 * 3 * 8)
    const wantRotated = new Float64Array(2 * 3 * 8)
    const x64 = f64(f32(2 * 3 * 8, 4))
    k.rope(x64, rotated, 2, 2, 3, 8, 10_000, false)
    makeRope()(x64, wantRotated, 2, 2, 3, 8, 10_000, false)
    assert.deepStrictEqual(rotated, wantRotated)
  })

  it("reads only the leading entries of longer operands and writes only the output's", () => {
    const a = f32(9, 5)
    const b = f32(12, 6)
    const out = new Float32Array(7)
    k.add(a, b, out)
    for (let i = 0; i < 7; i++) assert.strictEqual(out[i], Math.fround(a[i] + b[i]))
    const logits = f32(2 * 8 + 3, 7)
    const dLogits = new Float32Array(2 * 8 + 3).fill(9)
    k.crossEntropy(logits, Int32Array.of(1, 7), dLogits, 2, 8, 0.5)
    assert.deepStrictEqual([...dLogits.subarray(16)], [9, 9, 9])
  })

  it("the committed generated module is what scripts/build-wasm.ts makes from vector.wat", async () => {
    assert.strictEqual(readFileSync(vectorGeneratedPath, "utf8"), await buildVectorModule())
  })
})
