import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import { makeCpuKernels } from "../../src/kernels/cpu/index.ts"
import { KernelArgumentError } from "../../src/kernels/KernelArgumentError.ts"
import { uniform } from "../../src/tensor/rng.ts"
import type { FloatArray } from "../../src/tensor/tensor.ts"

const k = makeCpuKernels()

const rand = (
  n: number,
  stream: number,
  Ctor: Float32ArrayConstructor | Float64ArrayConstructor = Float64Array,
  lo = -1,
  hi = 1
): FloatArray => {
  const out = new Ctor(n)
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * uniform(7, stream, i)
  return out
}

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  assert.strictEqual(a.length, b.length)
  let m = 0
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]))
  return m
}

/** The definition, one dot product per entry. */
const naiveMatmul = (
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  m: number,
  n: number,
  kk: number,
  ta: boolean,
  tb: boolean
): Float64Array => {
  const c = new Float64Array(m * n)
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0
      for (let p = 0; p < kk; p++) s += (ta ? a[p * m + i] : a[i * kk + p]) * (tb ? b[j * kk + p] : b[p * n + j])
      c[i * n + j] = s
    }
  }
  return c
}

describe("cpu matmul", () => {
  it("matches the definition for every transpose combination, ragged sizes and accumulate (property)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 21 }),
        fc.integer({ min: 1, max: 21 }),
        fc.integer({ min: 1, max: 21 }),
        fc.boolean(),
        fc.boolean(),
        fc.boolean(),
        fc.integer({ min: 0, max: 1000 }),
        (m, n, kk, ta, tb, acc, seed) => {
          const a = rand(m * kk, seed)
          const b = rand(kk * n, seed + 1)
          const c0 = rand(m * n, seed + 2)
          const c = c0.slice()
          k.matmul(a, b, c, m, n, kk, ta, tb, acc)
          const want = naiveMatmul(a, b, m, n, kk, ta, tb)
          if (acc) { for (let i = 0; i < want.length; i++) want[i] += c0[i] }
          assert.isBelow(maxAbsDiff(c, want), 1e-12)
        }
      ),
      { numRuns: 150 }
    )
  })

  it("float32 inputs are within float32 summation error of the float64 result", () => {
    const [m, n, kk] = [33, 17, 70]
    const a = rand(m * kk, 1, Float32Array)
    const b = rand(n * kk, 2, Float32Array)
    const c = new Float32Array(m * n)
    k.matmul(a, b, c, m, n, kk, false, true, false)
    const want = naiveMatmul(a, b, m, n, kk, false, true)
    const absolute = naiveMatmul(a.map(Math.abs), b.map(Math.abs), m, n, kk, false, true)
    // float32 accumulation of kk products: each partial sum is rounded once (error ≤ 2^-24 relative)
    for (let i = 0; i < want.length; i++) {
      assert.isAtMost(Math.abs(c[i] - want[i]), (kk + 2) * 2 ** -24 * absolute[i], `entry ${i}`)
    }
  })

  it("is deterministic across calls and independent of previous calls' sizes", () => {
    const a = rand(40 * 24, 3, Float32Array)
    const b = rand(24 * 9, 4, Float32Array)
    const first = new Float32Array(40 * 9)
    k.matmul(a, b, first, 40, 9, 24, false, false, false)
    k.matmul(rand(300 * 300, 5), rand(300 * 300, 6), new Float64Array(300 * 300), 300, 300, 300, true, true, false)
    const second = new Float32Array(40 * 9)
    k.matmul(a, b, second, 40, 9, 24, false, false, false)
    assert.deepStrictEqual(second, first)
  })

  it("k = 0 gives zeros (or leaves C when accumulating)", () => {
    const c = Float64Array.from([1, 2, 3, 4])
    k.matmul(new Float64Array(0), new Float64Array(0), c, 2, 2, 0, false, false, true)
    assert.deepStrictEqual([...c], [1, 2, 3, 4])
    k.matmul(new Float64Array(0), new Float64Array(0), c, 2, 2, 0, false, false, false)
    assert.deepStrictEqual([...c], [0, 0, 0, 0])
  })

  it("rejects operands shorter than the sizes with a typed error", () => {
    try {
      k.matmul(new Float32Array(5), new Float32Array(6), new Float32Array(4), 2, 2, 3, false, false, false)
      assert.fail("expected KernelArgumentError")
    } catch (e) {
      assert.instanceOf(e, KernelArgumentError)
      assert.strictEqual(e.kernel, "matmul")
      assert.strictEqual(e.field, "a.length")
      assert.strictEqual(e.value, 5)
    }
  })
})

describe("cpu elementwise", () => {
  it("add, mul, scale, addInPlace, with aliasing", () => {
    const a = Float64Array.from([1, -2, 3])
    const b = Float64Array.from([4, 5, -6])
    const out = new Float64Array(3)
    k.add(a, b, out)
    assert.deepStrictEqual([...out], [5, 3, -3])
    k.mul(a, b, out)
    assert.deepStrictEqual([...out], [4, -10, -18])
    k.scale(out, 0.5, out)
    assert.deepStrictEqual([...out], [2, -5, -9])
    k.addInPlace(out, a)
    assert.deepStrictEqual([...out], [3, -7, -6])
    k.add(a, a, a)
    assert.deepStrictEqual([...a], [2, -4, 6])
  })

  it("silu and its derivative", () => {
    const x = Float64Array.from([-3, -0.5, 0, 0.7, 4])
    const y = new Float64Array(5)
    k.silu(x, y)
    const sig = (v: number) => 1 / (1 + Math.exp(-v))
    for (let i = 0; i < 5; i++) assert.closeTo(y[i], x[i] * sig(x[i]), 1e-15)
    const dy = Float64Array.from([1, 2, 3, 4, 5])
    const dx = Float64Array.from([10, 10, 10, 10, 10])
    k.siluBackward(x, dy, dx, true)
    for (let i = 0; i < 5; i++) {
      const h = 1e-6
      const d = ((x[i] + h) * sig(x[i] + h) - (x[i] - h) * sig(x[i] - h)) / (2 * h)
      assert.closeTo(dx[i], 10 + dy[i] * d, 1e-8)
    }
  })
})

describe("cpu rmsnorm", () => {
  it("normalises each row by its root mean square and writes 1/rms", () => {
    const x = Float64Array.from([3, 4, 0, 0, 1, 1])
    const w = Float64Array.from([1, 2])
    const out = new Float64Array(6)
    const rstd = new Float64Array(3)
    k.rmsnorm(x, w, out, rstd, 3, 2, 0)
    const r0 = 1 / Math.sqrt(12.5)
    assert.closeTo(rstd[0], r0, 1e-15)
    assert.closeTo(out[0], 3 * r0, 1e-15)
    assert.closeTo(out[1], 8 * r0, 1e-15)
    assert.closeTo(out[4], 1, 1e-15)
    assert.closeTo(out[5], 2, 1e-15)
    k.rmsnorm(x, w, out, rstd, 3, 2, 1e-5)
    assert.closeTo(rstd[1], 1 / Math.sqrt(1e-5), 1e-9)
    assert.strictEqual(out[2], 0)
  })
})

describe("cpu rope", () => {
  it("rotates interleaved pairs by pos·θ^(-2i/hd), and inverse undoes it", () => {
    const [B, T, H, hd, theta] = [2, 3, 2, 4, 100]
    const x = rand(B * T * H * hd, 11)
    const y = new Float64Array(x.length)
    k.rope(x, y, B * T, T, H, hd, theta, false)
    for (let row = 0; row < B * T; row++) {
      const pos = row % T
      for (let h = 0; h < H; h++) {
        for (let i = 0; i < hd / 2; i++) {
          const o = row * H * hd + h * hd + 2 * i
          const ang = pos * Math.pow(theta, (-2 * i) / hd)
          assert.closeTo(y[o], x[o] * Math.cos(ang) - x[o + 1] * Math.sin(ang), 1e-14)
          assert.closeTo(y[o + 1], x[o] * Math.sin(ang) + x[o + 1] * Math.cos(ang), 1e-14)
        }
      }
    }
    k.rope(y, y, B * T, T, H, hd, theta, true)
    assert.isBelow(maxAbsDiff(y, x), 1e-14)
  })

  it("rejects an odd head dimension", () => {
    assert.throws(() => k.rope(new Float64Array(6), new Float64Array(6), 2, 2, 1, 3, 10000, false), /hd = 3/)
  })
})

describe("cpu attention", () => {
  const naive = (q: FloatArray, kk: FloatArray, v: FloatArray, B: number, T: number, H: number, hd: number) => {
    const out = new Float64Array(q.length)
    const probs = new Float64Array(B * H * T * T)
    const at = (b: number, t: number, h: number) => ((b * T + t) * H + h) * hd
    for (let b = 0; b < B; b++) {
      for (let h = 0; h < H; h++) {
        for (let i = 0; i < T; i++) {
          const s: Array<number> = []
          for (let j = 0; j <= i; j++) {
            let d = 0
            for (let c = 0; c < hd; c++) d += q[at(b, i, h) + c] * kk[at(b, j, h) + c]
            s.push(d / Math.sqrt(hd))
          }
          const mx = Math.max(...s)
          const e = s.map((x) => Math.exp(x - mx))
          const z = e.reduce((x, y) => x + y, 0)
          for (let j = 0; j <= i; j++) {
            const p = e[j] / z
            probs[((b * H + h) * T + i) * T + j] = p
            for (let c = 0; c < hd; c++) out[at(b, i, h) + c] += p * v[at(b, j, h) + c]
          }
        }
      }
    }
    return { out, probs }
  }

  it("is causal softmax(q·kᵀ/√hd)·v with probs [B, H, T, T] zero above the diagonal", () => {
    const [B, T, H, hd] = [2, 5, 3, 4]
    const n = B * T * H * hd
    const q = rand(n, 21, Float64Array, -2, 2)
    const kk = rand(n, 22, Float64Array, -2, 2)
    const v = rand(n, 23)
    const probs = new Float64Array(B * H * T * T).fill(7)
    const out = new Float64Array(n)
    k.attention(q, kk, v, probs, out, B, T, H, hd)
    const want = naive(q, kk, v, B, T, H, hd)
    assert.isBelow(maxAbsDiff(out, want.out), 1e-14)
    assert.isBelow(maxAbsDiff(probs, want.probs), 1e-15)
  })

  /** Backward by the definition: dv = Pᵀ·dO, dP = dO·vᵀ, dS = P ⊙ (dP − rowsum(P ⊙ dP)), dq = dS·k/√hd, dk = dSᵀ·q/√hd. */
  const naiveBackward = (
    q: FloatArray,
    kk: FloatArray,
    v: FloatArray,
    probs: FloatArray,
    dOut: FloatArray,
    B: number,
    T: number,
    H: number,
    hd: number
  ) => {
    const dq = new Float64Array(q.length), dk = new Float64Array(q.length), dv = new Float64Array(q.length)
    const at = (b: number, t: number, h: number) => ((b * T + t) * H + h) * hd
    for (let b = 0; b < B; b++) {
      for (let h = 0; h < H; h++) {
        for (let i = 0; i < T; i++) {
          const P = (j: number) => probs[((b * H + h) * T + i) * T + j]
          const dP: Array<number> = []
          for (let j = 0; j <= i; j++) {
            let d = 0
            for (let c = 0; c < hd; c++) {
              d += dOut[at(b, i, h) + c] * v[at(b, j, h) + c]
              dv[at(b, j, h) + c] += P(j) * dOut[at(b, i, h) + c]
            }
            dP.push(d)
          }
          const rowDot = dP.reduce((s, d, j) => s + P(j) * d, 0)
          for (let j = 0; j <= i; j++) {
            const ds = P(j) * (dP[j] - rowDot) / Math.sqrt(hd)
            for (let c = 0; c < hd; c++) {
              dq[at(b, i, h) + c] += ds * kk[at(b, j, h) + c]
              dk[at(b, j, h) + c] += ds * q[at(b, i, h) + c]
            }
          }
        }
      }
    }
    return { dq, dk, dv }
  }

  it("matches the definition forward and backward over many tiles (T = 19, 27) and ragged heads", () => {
    for (const [B, T, H, hd] of [[2, 19, 3, 6], [1, 27, 2, 16]]) {
      const n = B * T * H * hd
      const q = rand(n, 51 + T, Float64Array, -2, 2)
      const kk = rand(n, 52 + T, Float64Array, -2, 2)
      const v = rand(n, 53 + T)
      const dOut = rand(n, 54 + T)
      const probs = new Float64Array(B * H * T * T).fill(-3)
      const out = new Float64Array(n)
      k.attention(q, kk, v, probs, out, B, T, H, hd)
      const want = naive(q, kk, v, B, T, H, hd)
      assert.isBelow(maxAbsDiff(out, want.out), 1e-13)
      assert.isBelow(maxAbsDiff(probs, want.probs), 1e-15)
      const dq = new Float64Array(n).fill(9), dk = new Float64Array(n).fill(9), dv = new Float64Array(n).fill(9)
      k.attentionBackward(q, kk, v, out, probs, dOut, dq, dk, dv, B, T, H, hd)
      const g = naiveBackward(q, kk, v, probs, dOut, B, T, H, hd)
      assert.isBelow(maxAbsDiff(dq, g.dq), 1e-13)
      assert.isBelow(maxAbsDiff(dk, g.dk), 1e-13)
      assert.isBelow(maxAbsDiff(dv, g.dv), 1e-13)
    }
  })

  it("float32 saves one log-sum-exp per row and refuses a shorter saved buffer, naming it", () => {
    const [B, T, H, hd] = [2, 3, 2, 4]
    const n = B * T * H * hd
    const q = rand(n, 41, Float32Array)
    assert.strictEqual(k.attentionSavedLength(q, B, T, H, hd), B * H * T)
    assert.throws(
      () => k.attention(q, q, q, new Float32Array(B * H * T - 1), new Float32Array(n), B, T, H, hd),
      /saved\.length/
    )
  })

  it("backward overwrites dq, dk, dv", () => {
    const [B, T, H, hd] = [1, 3, 1, 2]
    const n = B * T * H * hd
    const q = rand(n, 31), kk = rand(n, 32), v = rand(n, 33), dOut = rand(n, 34)
    const probs = new Float64Array(T * T)
    const out = new Float64Array(n)
    k.attention(q, kk, v, probs, out, B, T, H, hd)
    const grads = () => {
      const g = [new Float64Array(n), new Float64Array(n), new Float64Array(n)]
      return g
    }
    const clean = grads()
    const dirty = grads().map((g) => g.fill(123))
    k.attentionBackward(q, kk, v, out, probs, dOut, clean[0], clean[1], clean[2], B, T, H, hd)
    k.attentionBackward(q, kk, v, out, probs, dOut, dirty[0], dirty[1], dirty[2], B, T, H, hd)
    assert.deepStrictEqual(dirty, clean)
    // The last position's value only reaches the last query: dv[T-1] = p[T-1][T-1]·dOut[T-1].
    const pLast = probs[(T - 1) * T + (T - 1)]
    assert.closeTo(clean[2][(T - 1) * hd], pLast * dOut[(T - 1) * hd], 1e-15)
  })
})

describe("cpu cross-entropy and softmax", () => {
  it("returns Σ (logsumexp − logit[target]) and (softmax − onehot)·scale, stable for large logits", () => {
    const logits = Float64Array.from([1000, 1001, 999, -5, 0, 5])
    const targets = Int32Array.from([1, 0])
    const d = new Float64Array(6)
    const loss = k.crossEntropy(logits, targets, d, 2, 3, 0.5)
    const lse = (xs: Array<number>) => {
      const m = Math.max(...xs)
      return m + Math.log(xs.reduce((s, x) => s + Math.exp(x - m), 0))
    }
    const want = lse([1000, 1001, 999]) - 1001 + lse([-5, 0, 5]) + 5
    assert.closeTo(loss, want, 1e-12)
    const p = new Float64Array(6)
    k.softmax(logits, p, 2, 3)
    for (let i = 0; i < 6; i++) {
      const onehot = (i === 1 || i === 3) ? 1 : 0
      assert.closeTo(d[i], (p[i] - onehot) * 0.5, 1e-15)
    }
    assert.closeTo(p[0] + p[1] + p[2], 1, 1e-15)
  })

  it("float32 logits still sum the loss in float64", () => {
    // Float32 rows run on the WebAssembly kernel (exp in float32, a few ulp per row, see
    // wasmVector.test.ts), so the check is on the accumulation: the total is the float64 sum, in
    // row order, of the kernel's own row losses (a float32 running sum would be off by ~1e-4).
    const rows = 1000
    const logits = rand(rows * 8, 41, Float32Array) as Float32Array
    const targets = Int32Array.from({ length: rows }, (_, i) => i % 8)
    const loss32 = k.crossEntropy(logits, targets, new Float32Array(rows * 8), rows, 8, 1)
    let sum = 0
    for (let r = 0; r < rows; r++) {
      sum += k.crossEntropy(logits.subarray(8 * r, 8 * r + 8), targets.subarray(r, r + 1), new Float32Array(8), 1, 8, 1)
    }
    assert.strictEqual(loss32, sum)
    const loss64 = k.crossEntropy(Float64Array.from(logits), targets, new Float64Array(rows * 8), rows, 8, 1)
    assert.closeTo(loss32, loss64, 1e-6 * rows)
  })

  it("rejects a target outside the vocabulary, naming its row", () => {
    assert.throws(
      () => k.crossEntropy(new Float64Array(6), Int32Array.from([0, 3]), new Float64Array(6), 2, 3, 1),
      /targets\[1\] = 3/
    )
  })
})

describe("cpu embedding", () => {
  it("gathers rows and scatters gradients in row order", () => {
    const table = Float64Array.from([0, 1, 10, 11, 20, 21])
    const ids = Int32Array.from([2, 0, 2])
    const out = new Float64Array(6)
    k.embedding(table, ids, out, 2)
    assert.deepStrictEqual([...out], [20, 21, 0, 1, 20, 21])
    const dTable = new Float64Array(6).fill(1)
    k.embeddingBackward(Float64Array.from([1, 2, 3, 4, 5, 6]), ids, dTable, 2)
    assert.deepStrictEqual([...dTable], [4, 5, 1, 1, 7, 9])
  })

  it("rejects an id outside the table", () => {
    assert.throws(
      () => k.embedding(new Float64Array(4), Int32Array.from([0, -1]), new Float64Array(4), 2),
      /ids\[1\] = -1/
    )
  })
})

describe("cpu optimizer kernels and sumSquares", () => {
  it("sumSquares accumulates in float64", () => {
    const x = new Float32Array(1_000_000).fill(0.1)
    assert.closeTo(k.sumSquares(x), 1_000_000 * Math.fround(0.1) ** 2, 1e-6)
  })

  it("adamw: one step from zero moments moves each entry by ≈ lr·sign(g) plus decay", () => {
    const p = Float64Array.from([1, -1])
    const g = Float64Array.from([0.5, -2])
    const m = new Float64Array(2), v = new Float64Array(2)
    k.adamw(p, g, m, v, 0.1, 0.9, 0.99, 1e-8, 0.01, 1)
    // m̂ = g, v̂ = g², so the step is lr·(g/(|g| + eps) + wd·p).
    assert.closeTo(p[0], 1 - 0.1 * (0.5 / (0.5 + 1e-8) + 0.01), 1e-12)
    assert.closeTo(p[1], -1 - 0.1 * (-2 / (2 + 1e-8) - 0.01), 1e-12)
    assert.closeTo(m[0], 0.05, 1e-15)
    assert.closeTo(v[1], 0.04, 1e-15)
  })

  it("sgd: first step sets the buffer to g, nesterov looks ahead", () => {
    const p = Float64Array.from([1])
    const buf = Float64Array.from([99])
    k.sgd(p, Float64Array.from([2]), buf, 0.1, 0.9, false, 0, 1)
    assert.strictEqual(buf[0], 2)
    assert.closeTo(p[0], 0.8, 1e-15)
    k.sgd(p, Float64Array.from([1]), buf, 0.1, 0.9, true, 0, 2)
    assert.closeTo(buf[0], 2.8, 1e-15)
    assert.closeTo(p[0], 0.8 - 0.1 * (1 + 0.9 * 2.8), 1e-15)
  })
})

describe("cpu backend instances", () => {
  it("give the same bits whichever instance runs a call, in any interleaving of sizes", () => {
    /** One attention forward and backward plus a float32 and a float64 matmul, at a size set by T. */
    const work = (kernels: ReturnType<typeof makeCpuKernels>, T: number): Array<FloatArray> => {
      const [B, H, hd] = [2, 2, 8]
      const n = B * T * H * hd
      const q = rand(n, 61 + T, Float32Array), kk = rand(n, 62 + T, Float32Array), v = rand(n, 63 + T, Float32Array)
      const saved = new Float32Array(kernels.attentionSavedLength(q, B, T, H, hd)), out = new Float32Array(n)
      const dq = new Float32Array(n), dk = new Float32Array(n), dv = new Float32Array(n)
      kernels.rope(q, q, B * T, T, H, hd, 10000, false)
      kernels.attention(q, kk, v, saved, out, B, T, H, hd)
      kernels.attentionBackward(q, kk, v, out, saved, out, dq, dk, dv, B, T, H, hd)
      const c32 = new Float32Array(T * T)
      kernels.matmul(q, kk, c32, T, T, n / T, false, true, false)
      const c64 = new Float64Array(T * T)
      kernels.matmul(Float64Array.from(q), Float64Array.from(kk), c64, T, T, n / T, false, true, false)
      return [q, saved, out, dq, dk, dv, c32, c64]
    }
    const alone = [work(makeCpuKernels(), 40), work(makeCpuKernels(), 9)]
    const first = makeCpuKernels()
    const second = makeCpuKernels()
    const bigOnFirst = work(first, 40)
    const smallOnSecond = work(second, 9)
    assert.deepStrictEqual([bigOnFirst, smallOnSecond], alone)
    assert.deepStrictEqual([work(second, 40), work(first, 9)], alone)
  })
})
