/**
 * The gpujs backend's contract around the kernels: which mode runs and why, delegation to the cpu
 * backend, typed argument errors, compile-once caching, and resource release.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { makeCpuKernels } from "../../src/kernels/cpu/index.ts"
import { gpujsKernelsLayer, isGpujsMode, makeGpujsKernels } from "../../src/kernels/gpujs/index.ts"
import { KernelArgumentError } from "../../src/kernels/KernelArgumentError.ts"
import { Kernels } from "../../src/kernels/Kernels.ts"
import type { KernelsShape } from "../../src/kernels/KernelsShape.ts"
import { uniform } from "../../src/tensor/rng.ts"

const cpu = makeCpuKernels()

const values = (stream: number, n: number): Float32Array =>
  Float32Array.from({ length: n }, (_, i) => 2 * uniform(11, stream, i) - 1)

describe("gpujs backend", () => {
  it.effect("cpu mode runs as requested, with no reason to report", () =>
    Effect.gen(function*() {
      const g = yield* makeGpujsKernels("cpu")
      assert.strictEqual(g.mode, "cpu")
      assert.strictEqual(g.requested, "cpu")
      assert.isUndefined(g.reason)
      assert.strictEqual(g.kernels.backend, "gpujs")
      assert.strictEqual(g.kernels.mode, "cpu")
    }))

  it.effect("webgpu is never silently claimed: the running mode and the reason are reported", () =>
    Effect.gen(function*() {
      const g = yield* makeGpujsKernels("webgpu")
      assert.strictEqual(g.requested, "webgpu")
      assert.include(["headlessgl", "webasm", "cpu"], g.mode)
      assert.strictEqual(g.kernels.mode, g.mode)
      assert.isString(g.reason)
      assert.match(g.reason!, /^webgpu: /)
    }))

  it.effect("webasm requested: webasm runs (WebAssembly is always present in Node)", () =>
    Effect.gen(function*() {
      const g = yield* makeGpujsKernels("webasm")
      assert.strictEqual(g.mode, "webasm")
      assert.isUndefined(g.reason)
    }))

  it.effect("a step down from headlessgl names its cause", () =>
    Effect.gen(function*() {
      const g = yield* makeGpujsKernels("headlessgl")
      if (g.mode === "headlessgl") assert.isUndefined(g.reason)
      else assert.match(g.reason ?? "", /headlessgl: /)
    }))

  it.effect("backends open and close one after another (the display outlives each of them)", () =>
    Effect.gen(function*() {
      const display = process.env.DISPLAY
      const first = yield* Effect.scoped(makeGpujsKernels("headlessgl"))
      assert.strictEqual(process.env.DISPLAY, display, "DISPLAY is restored when the backend closes")
      const again = yield* Effect.scoped(Effect.gen(function*() {
        const g = yield* makeGpujsKernels("headlessgl")
        const out = new Float32Array(4)
        g.kernels.add(Float32Array.of(1, 2, 3, 4), Float32Array.of(4, 3, 2, 1), out)
        assert.deepStrictEqual(Array.from(out), [5, 5, 5, 5])
        return g.mode
      }))
      assert.strictEqual(again, first.mode)
      assert.strictEqual(process.env.DISPLAY, display)
    }))

  it.effect("float64 operands run on the cpu backend, bit for bit", () =>
    Effect.gen(function*() {
      const { kernels } = yield* makeGpujsKernels("cpu")
      const a = Float64Array.from(values(1, 12), (x) => x / 3)
      const b = Float64Array.from(values(2, 15), (x) => x / 7)
      const want = new Float64Array(20)
      const got = new Float64Array(20)
      cpu.matmul(a, b, want, 4, 5, 3, false, false, false)
      kernels.matmul(a, b, got, 4, 5, 3, false, false, false)
      assert.deepStrictEqual(got, want)
    }))

  it.effect("in the cpu mode embedding, embeddingBackward and sumSquares are the cpu backend's", () =>
    Effect.gen(function*() {
      const { kernels } = yield* makeGpujsKernels("cpu")
      const table = values(3, 5 * 4)
      const ids = Int32Array.of(4, 0, 4, 2)
      const want = new Float32Array(16)
      const got = new Float32Array(16)
      cpu.embedding(table, ids, want, 4)
      kernels.embedding(table, ids, got, 4)
      assert.deepStrictEqual(got, want)
      const dWant = new Float32Array(20)
      const dGot = new Float32Array(20)
      cpu.embeddingBackward(want, ids, dWant, 4)
      kernels.embeddingBackward(want, ids, dGot, 4)
      assert.deepStrictEqual(dGot, dWant)
      assert.strictEqual(kernels.sumSquares(table), cpu.sumSquares(table))
    }))

  it.effect("short operands are rejected with a typed error naming the field", () =>
    Effect.gen(function*() {
      const { kernels } = yield* makeGpujsKernels("cpu")
      const error = (() => {
        try {
          kernels.matmul(new Float32Array(5), new Float32Array(6), new Float32Array(4), 2, 2, 3, false, false, false)
        } catch (e) {
          return e
        }
      })()
      assert.instanceOf(error, KernelArgumentError)
      assert.strictEqual((error as KernelArgumentError).field, "a.length")
      assert.strictEqual((error as KernelArgumentError).value, 5)
      assert.throws(
        () => kernels.crossEntropy(new Float32Array(6), Int32Array.of(1, 3), new Float32Array(6), 2, 3, 1),
        /targets\[1\] = 3/
      )
    }))

  it.effect("every kernel rejects the same malformed calls as the cpu backend, with the same error", () =>
    Effect.gen(function*() {
      const { kernels } = yield* makeGpujsKernels("cpu")
      const f = (n: number) => new Float32Array(n)
      const malformed: ReadonlyArray<(k: KernelsShape) => unknown> = [
        (k) => k.matmul(f(6), f(5), f(4), 2, 2, 3, false, false, false),
        (k) => k.add(f(4), f(3), f(4)),
        (k) => k.mul(f(3), f(4), f(4)),
        (k) => k.scale(f(3), 2, f(4)),
        (k) => k.addInPlace(f(4), f(3)),
        (k) => k.silu(f(3), f(4)),
        (k) => k.siluBackward(f(4), f(3), f(4), false),
        (k) => k.rmsnorm(f(8), f(3), f(8), f(2), 2, 4, 1e-5),
        (k) => k.rmsnormBackward(f(8), f(4), f(2), f(8), f(8), f(3), 2, 4, false),
        (k) => k.rope(f(12), f(12), 2, 2, 2, 3, 10000, false),
        (k) => k.rope(f(16), f(15), 2, 2, 2, 4, 10000, false),
        // The saved buffer is long enough for either backend (they save different statistics).
        (k) => k.attention(f(16), f(16), f(16), f(8), f(15), 1, 2, 2, 4),
        (k) => k.attentionBackward(f(16), f(16), f(16), f(16), f(8), f(16), f(16), f(15), f(16), 1, 2, 2, 4),
        (k) => k.embedding(f(8), Int32Array.of(0, 4), f(4), 2),
        (k) => k.embeddingBackward(f(4), Int32Array.of(3, 0), f(6), 2),
        (k) => k.crossEntropy(f(6), Int32Array.of(0, 3), f(6), 2, 3, 1),
        (k) => k.softmax(f(6), f(5), 2, 3),
        (k) => k.adamw(f(4), f(4), f(4), f(3), 1e-3, 0.9, 0.95, 1e-8, 0, 1),
        (k) => k.sgd(f(4), f(3), f(4), 1e-3, 0.9, false, 0, 1)
      ]
      const rejection = (call: () => unknown) => {
        try {
          call()
        } catch (e) {
          assert.instanceOf(e, KernelArgumentError)
          return { kernel: e.kernel, field: e.field, value: e.value, expected: e.expected }
        }
        return assert.fail("the call was accepted")
      }
      for (const call of malformed) assert.deepStrictEqual(rejection(() => call(kernels)), rejection(() => call(cpu)))
    }))

  it.effect("kernels compile once per shape and are reused across calls", () =>
    Effect.gen(function*() {
      const { kernels, device } = yield* makeGpujsKernels("cpu")
      const a = values(4, 6 * 7)
      const b = values(5, 7 * 3)
      const c = new Float32Array(18)
      kernels.matmul(a, b, c, 6, 3, 7, false, false, false)
      const compiled = device.compiledCount
      for (let i = 0; i < 3; i++) kernels.matmul(a, b, c, 6, 3, 7, false, false, false)
      assert.strictEqual(device.compiledCount, compiled)
      kernels.matmul(a, b, c, 6, 3, 7, false, false, true)
      assert.strictEqual(device.compiledCount, compiled + 1)
    }))

  it.effect("stage profiling splits upload, compute and readback", () =>
    Effect.gen(function*() {
      const { kernels, device } = yield* makeGpujsKernels("cpu")
      const x = values(6, 64)
      const out = new Float32Array(64)
      device.startProfiling()
      kernels.softmax(x, out, 8, 8)
      const t = device.stopProfiling()
      for (const stage of ["upload", "compute", "readback"] as const) assert.isAtLeast(t[stage], 0)
    }))

  it.effect("gpujsKernelsLayer provides the Kernels service", () =>
    Effect.gen(function*() {
      const kernels = yield* Kernels
      assert.strictEqual(kernels.backend, "gpujs")
      const out = new Float32Array(3)
      kernels.mul(Float32Array.of(1, 2, 3), Float32Array.of(2, 2, 2), out)
      assert.deepStrictEqual(Array.from(out), [2, 4, 6])
    }).pipe(Effect.provide(gpujsKernelsLayer("webasm"))))

  it("mode names decode", () => {
    assert.isTrue(isGpujsMode("headlessgl"))
    assert.isFalse(isGpujsMode("webgl"))
  })
})
