/**
 * Every kernel of the gpujs backend against the cpu reference, as properties over random shapes
 * and values, in headless GL, in webasm (where "gpu" lands without GL) and in gpu.js's cpu mode.
 *
 * Tolerance (float32): each output element satisfies |gpujs − cpu| ≤ 3e-5 · (1 + max|cpu|) over
 * its array; summed cross-entropy losses satisfy |Δ| ≤ 3e-5 · (rows + |loss|). Inputs are bounded
 * (|x| ≤ 4, rows ≤ 24 terms), so this is 30–300× the rounding actually observed, yet any indexing
 * or formula error shows up as an O(1) difference.
 *
 * When headless GL cannot run here (no `gl` build, no display), its suite is skipped with the
 * reason printed; the webasm and cpu modes always run.
 */
import { afterAll, assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Scope } from "effect"
import fc from "fast-check"
import { makeCpuKernels } from "../../src/kernels/cpu/index.ts"
import { type GpujsKernels, type GpujsRunMode, makeGpujsKernels } from "../../src/kernels/gpujs/index.ts"
import type { KernelsShape } from "../../src/kernels/KernelsShape.ts"
import { uniform } from "../../src/tensor/rng.ts"

const cpu = makeCpuKernels()

const TOL = 3e-5
const RUNS = 4

const openBackend = async (mode: GpujsRunMode): Promise<GpujsKernels & { close: () => Promise<void> }> => {
  const scope = await Effect.runPromise(Scope.make())
  const opened = await Effect.runPromise(Scope.provide(scope)(makeGpujsKernels(mode)))
  return { ...opened, close: () => Effect.runPromise(Scope.close(scope, Exit.void)) }
}

/** `n` values uniform in [-scale, scale), a pure function of (seed, stream). */
const values = (seed: number, stream: number, n: number, scale = 1): Float32Array => {
  const out = new Float32Array(n)
  for (let i = 0; i < n; i++) out[i] = (2 * uniform(seed, stream, i) - 1) * scale
  return out
}

const assertClose = (label: string, got: ArrayLike<number>, want: ArrayLike<number>): void => {
  assert.strictEqual(got.length, want.length, `${label}: length`)
  let max = 0
  for (let i = 0; i < want.length; i++) max = Math.max(max, Math.abs(want[i]))
  const tol = TOL * (1 + max)
  for (let i = 0; i < want.length; i++) {
    if (!(Math.abs(got[i] - want[i]) <= tol)) {
      assert.fail(`${label}[${i}]: gpujs ${got[i]} vs cpu ${want[i]} (|Δ| > ${tol.toExponential(2)})`)
    }
  }
}

const seed = fc.integer({ min: 0, max: 0x7fffffff })
const check = <T>(arb: fc.Arbitrary<T>, body: (t: T) => void) => fc.assert(fc.property(arb, body), { numRuns: RUNS })

/** The parity properties, for one opened backend. */
const paritySuite = (get: () => KernelsShape, fallbacks: () => ReadonlyArray<{ key: string; reason: string }>) => {
  it("matmul, all transpose variants, with and without accumulate", () =>
    check(
      fc.record({
        seed,
        m: fc.constantFrom(1, 5, 17),
        n: fc.constantFrom(1, 6, 16),
        k: fc.constantFrom(1, 7, 24),
        transA: fc.boolean(),
        transB: fc.boolean(),
        accumulate: fc.boolean()
      }),
      ({ seed, m, n, k, transA, transB, accumulate }) => {
        const a = values(seed, 1, m * k)
        const b = values(seed, 2, k * n)
        const want = values(seed, 3, m * n)
        const got = want.slice()
        cpu.matmul(a, b, want, m, n, k, transA, transB, accumulate)
        get().matmul(a, b, got, m, n, k, transA, transB, accumulate)
        assertClose(`matmul ${transA ? "T" : "N"}${transB ? "T" : "N"}${accumulate ? "+" : ""}`, got, want)
      }
    ))

  it("elementwise: add, mul, scale, addInPlace, silu, siluBackward", () =>
    check(
      fc.record({
        seed,
        n: fc.constantFrom(1, 7, 300),
        s: fc.double({ min: -3, max: 3, noNaN: true }),
        accumulate: fc.boolean()
      }),
      ({ seed, n, s, accumulate }) => {
        const k = get()
        const a = values(seed, 1, n, 4)
        const b = values(seed, 2, n, 4)
        const want = new Float32Array(n)
        const got = new Float32Array(n)
        for (const op of ["add", "mul"] as const) {
          cpu[op](a, b, want)
          k[op](a, b, got)
          assertClose(op, got, want)
        }
        cpu.scale(a, s, want)
        k.scale(a, s, got)
        assertClose("scale", got, want)
        const dstWant = a.slice()
        const dstGot = a.slice()
        cpu.addInPlace(dstWant, b)
        k.addInPlace(dstGot, b)
        assertClose("addInPlace", dstGot, dstWant)
        cpu.silu(a, want)
        k.silu(a, got)
        assertClose("silu", got, want)
        want.set(b)
        got.set(b)
        const dy = values(seed, 3, n)
        cpu.siluBackward(a, dy, want, accumulate)
        k.siluBackward(a, dy, got, accumulate)
        assertClose("siluBackward", got, want)
      }
    ))

  it("elementwise ops allow the output to alias an input", () => {
    const a = values(7, 1, 64, 2)
    const b = values(7, 2, 64, 2)
    const want = a.slice()
    cpu.add(want, b, want)
    const got = a.slice()
    get().add(got, b, got)
    assertClose("add aliased", got, want)
  })

  it("softmax", () =>
    check(
      fc.record({ seed, rows: fc.constantFrom(1, 3, 8), cols: fc.constantFrom(1, 5, 33) }),
      ({ seed, rows, cols }) => {
        const x = values(seed, 1, rows * cols, 4)
        const want = new Float32Array(rows * cols)
        const got = new Float32Array(rows * cols)
        cpu.softmax(x, want, rows, cols)
        get().softmax(x, got, rows, cols)
        assertClose("softmax", got, want)
      }
    ))

  it("rmsnorm and its backward", () =>
    check(
      fc.record({ seed, rows: fc.constantFrom(1, 4, 9), dim: fc.constantFrom(1, 6, 24), accumulate: fc.boolean() }),
      ({ seed, rows, dim, accumulate }) => {
        const k = get()
        const n = rows * dim
        const x = values(seed, 1, n, 3)
        const w = values(seed, 2, dim, 2)
        const outWant = new Float32Array(n)
        const outGot = new Float32Array(n)
        const rstdWant = new Float32Array(rows)
        const rstdGot = new Float32Array(rows)
        cpu.rmsnorm(x, w, outWant, rstdWant, rows, dim, 1e-5)
        k.rmsnorm(x, w, outGot, rstdGot, rows, dim, 1e-5)
        assertClose("rmsnorm out", outGot, outWant)
        assertClose("rmsnorm rstd", rstdGot, rstdWant)
        const dy = values(seed, 3, n)
        const dxWant = values(seed, 4, n)
        const dxGot = dxWant.slice()
        const dwWant = values(seed, 5, dim)
        const dwGot = dwWant.slice()
        cpu.rmsnormBackward(x, w, rstdWant, dy, dxWant, dwWant, rows, dim, accumulate)
        k.rmsnormBackward(x, w, rstdWant, dy, dxGot, dwGot, rows, dim, accumulate)
        assertClose("rmsnormBackward dx", dxGot, dxWant)
        assertClose("rmsnormBackward dw", dwGot, dwWant)
      }
    ))

  it("rope and its inverse", () =>
    check(
      fc.record({
        seed,
        B: fc.constantFrom(1, 2),
        T: fc.constantFrom(1, 5, 12),
        H: fc.constantFrom(1, 3),
        hd: fc.constantFrom(2, 8),
        theta: fc.constantFrom(10000, 500),
        inverse: fc.boolean()
      }),
      ({ seed, B, T, H, hd, theta, inverse }) => {
        const n = B * T * H * hd
        const x = values(seed, 1, n, 2)
        const want = new Float32Array(n)
        const got = new Float32Array(n)
        cpu.rope(x, want, B * T, T, H, hd, theta, inverse)
        get().rope(x, got, B * T, T, H, hd, theta, inverse)
        assertClose(`rope${inverse ? " inverse" : ""}`, got, want)
      }
    ))

  it("causal attention and its backward", () =>
    check(
      fc.record({
        seed,
        B: fc.constantFrom(1, 2),
        T: fc.constantFrom(1, 4, 9),
        H: fc.constantFrom(1, 2),
        hd: fc.constantFrom(1, 8)
      }),
      ({ seed, B, T, H, hd }) => {
        const k = get()
        const n = B * T * H * hd
        const q = values(seed, 1, n, 2)
        const kk = values(seed, 2, n, 2)
        const v = values(seed, 3, n, 2)
        // Each backend saves its own kind of statistics (cpu: log-sum-exp rows, gpujs: probabilities),
        // so only what they compute is compared.
        const savedWant = new Float32Array(cpu.attentionSavedLength(q, B, T, H, hd))
        const savedGot = new Float32Array(k.attentionSavedLength(q, B, T, H, hd))
        const outWant = new Float32Array(n)
        const outGot = new Float32Array(n)
        cpu.attention(q, kk, v, savedWant, outWant, B, T, H, hd)
        k.attention(q, kk, v, savedGot, outGot, B, T, H, hd)
        assertClose("attention out", outGot, outWant)
        const dOut = values(seed, 4, n)
        const want = [new Float32Array(n), new Float32Array(n), new Float32Array(n)] as const
        // Outputs are overwritten: start the gpujs ones from garbage to prove it.
        const got = [values(seed, 5, n), values(seed, 6, n), values(seed, 7, n)] as const
        cpu.attentionBackward(q, kk, v, outWant, savedWant, dOut, want[0], want[1], want[2], B, T, H, hd)
        k.attentionBackward(q, kk, v, outGot, savedGot, dOut, got[0], got[1], got[2], B, T, H, hd)
        assertClose("attentionBackward dq", got[0], want[0])
        assertClose("attentionBackward dk", got[1], want[1])
        assertClose("attentionBackward dv", got[2], want[2])
      }
    ))

  it("cross-entropy: summed loss and logits gradient", () =>
    check(
      fc.record({
        seed,
        rows: fc.constantFrom(1, 6, 16),
        vocab: fc.constantFrom(2, 11, 64),
        gradScale: fc.constantFrom(1, 0.125)
      }),
      ({ seed, rows, vocab, gradScale }) => {
        const logits = values(seed, 1, rows * vocab, 4)
        const targets = Int32Array.from({ length: rows }, (_, r) => Math.floor(uniform(seed, 2, r) * vocab))
        const want = new Float32Array(rows * vocab)
        const got = new Float32Array(rows * vocab)
        const lossWant = cpu.crossEntropy(logits, targets, want, rows, vocab, gradScale)
        const lossGot = get().crossEntropy(logits, targets, got, rows, vocab, gradScale)
        assert.isTrue(
          Math.abs(lossGot - lossWant) <= TOL * (rows + Math.abs(lossWant)),
          `crossEntropy loss: gpujs ${lossGot} vs cpu ${lossWant}`
        )
        assertClose("crossEntropy dLogits", got, want)
      }
    ))

  it("adamw and sgd updates", () =>
    check(
      fc.record({
        seed,
        n: fc.constantFrom(1, 13, 200),
        step: fc.constantFrom(1, 2, 50),
        weightDecay: fc.constantFrom(0, 0.1),
        momentum: fc.constantFrom(0, 0.9),
        nesterov: fc.boolean()
      }),
      ({ seed, n, step, weightDecay, momentum, nesterov }) => {
        const k = get()
        const grad = values(seed, 1, n)
        const init = () => ({
          p: values(seed, 2, n),
          m: values(seed, 3, n, 0.1),
          v: values(seed, 4, n, 0.1).map((x) => x * x)
        })
        const want = init()
        const got = init()
        cpu.adamw(want.p, grad, want.m, want.v, 3e-3, 0.9, 0.95, 1e-8, weightDecay, step)
        k.adamw(got.p, grad, got.m, got.v, 3e-3, 0.9, 0.95, 1e-8, weightDecay, step)
        assertClose("adamw param", got.p, want.p)
        assertClose("adamw m", got.m, want.m)
        assertClose("adamw v", got.v, want.v)
        const sWant = init()
        const sGot = init()
        cpu.sgd(sWant.p, grad, sWant.m, 0.1, momentum, nesterov, weightDecay, step)
        k.sgd(sGot.p, grad, sGot.m, 0.1, momentum, nesterov, weightDecay, step)
        assertClose("sgd param", sGot.p, sWant.p)
        assertClose("sgd buf", sGot.m, sWant.m)
      }
    ))

  it("embedding, its backward and sumSquares", () =>
    check(
      fc.record({
        seed,
        vocab: fc.constantFrom(1, 5, 13),
        rows: fc.constantFrom(1, 7, 24),
        dim: fc.constantFrom(1, 4, 9)
      }),
      ({ seed, vocab, rows, dim }) => {
        const table = values(seed, 1, vocab * dim)
        // Repeated ids: the backward must add every row of an id, in order.
        const ids = Int32Array.from({ length: rows }, (_, r) => Math.floor(uniform(seed, 2, r) * vocab))
        const want = new Float32Array(rows * dim)
        const got = new Float32Array(rows * dim)
        cpu.embedding(table, ids, want, dim)
        get().embedding(table, ids, got, dim)
        assertClose("embedding", got, want)
        const dOut = values(seed, 3, rows * dim)
        const dWant = values(seed, 4, vocab * dim)
        const dGot = dWant.slice()
        cpu.embeddingBackward(dOut, ids, dWant, dim)
        get().embeddingBackward(dOut, ids, dGot, dim)
        assertClose("embeddingBackward", dGot, dWant)
        const sum = cpu.sumSquares(dOut)
        assert.approximately(get().sumSquares(dOut), sum, TOL * (1 + sum), "sumSquares")
      }
    ))

  it("no kernel fell back to gpu.js's cpu kernel", () => {
    assert.deepStrictEqual(fallbacks(), [])
  })
}

const headless = await openBackend("headlessgl")
const webasm = await openBackend("webasm")
const cpuMode = await openBackend("cpu")
afterAll(async () => {
  await headless.close()
  await webasm.close()
  await cpuMode.close()
})

const headlessRuns = headless.mode === "headlessgl"
if (!headlessRuns) console.warn(`gpujs headlessgl parity tests SKIPPED: ${headless.reason}`)

describe.skipIf(!headlessRuns)("gpujs headlessgl matches the cpu backend", () => {
  paritySuite(() => headless.kernels, () => headless.device.fallbacks)
})

/** Kernels whose operands may carry token ids or build tables on first use: these may upload. */
const uploading = new Set(["embedding", "embeddingBackward", "crossEntropy", "rope"])

/**
 * `g.kernels` called with every float32 operand replaced by a tensor of its storage that lives on
 * the device only: its value is put there by a kernel (`scale` by 1, exact), and its host copy is
 * then overwritten with NaN, so a kernel that read the host copy instead of the texture would be
 * caught. Results are read back through the storage into the caller's arrays. Calls of float32
 * operands only (no ids, no tables) must upload nothing.
 */
const residentKernels = (g: GpujsKernels): KernelsShape =>
  new Proxy(g.kernels, {
    get(target, name, receiver) {
      const value = Reflect.get(target, name, receiver)
      if (typeof value !== "function" || name === "attentionSavedLength") return value
      return (...args: Array<unknown>) => {
        const storage = target.storage
        const copies = new Map<Float32Array, Float32Array>()
        for (const a of args) {
          if (!(a instanceof Float32Array) || copies.has(a)) continue
          const copy = storage.allocate(a.length)
          copy.set(a)
          storage.written(copy)
          if (a.length > 0) target.scale(copy, 1, copy)
          copy.fill(NaN)
          copies.set(a, copy)
        }
        g.device.startCounting()
        const result = (value as (...xs: Array<unknown>) => unknown).apply(
          target,
          args.map((a) => a instanceof Float32Array ? copies.get(a)! : a)
        )
        const traffic = g.device.stopCounting()
        if (!uploading.has(String(name))) assert.strictEqual(traffic.bytesUp, 0, `${String(name)} uploaded operands`)
        for (const [a, copy] of copies) {
          a.set(storage.read(copy))
          storage.release(copy)
        }
        return result
      }
    }
  })

describe.skipIf(!headlessRuns)("gpujs headlessgl with operands resident on the device matches the cpu backend", () => {
  paritySuite(() => residentKernels(headless), () => headless.device.fallbacks)
})

// webasm is where the "gpu" mode lands without a GL context: check it as well.
describe("gpujs webasm matches the cpu backend", () => {
  it("runs in webasm mode", () => assert.strictEqual(webasm.mode, "webasm"))
  paritySuite(() => webasm.kernels, () => webasm.device.fallbacks)
})

describe("gpujs (gpu.js cpu mode) matches the cpu backend", () => {
  paritySuite(() => cpuMode.kernels, () => cpuMode.device.fallbacks)
})
