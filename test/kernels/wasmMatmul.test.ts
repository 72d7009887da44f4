import { assert, describe, it } from "@effect/vitest"
import { readFileSync } from "node:fs"
import { buildMatmulModule, matmulGeneratedPath } from "../../scripts/build-wasm.ts"
import { makeCpuKernels } from "../../src/kernels/cpu/index.ts"
import { defaultMatmulVariant, makeWasmMatmul, matmulVariantAvailable } from "../../src/kernels/cpu/wasm/matmulWasm.ts"
import { assertClose, checkBlockedAndSkinny, checkRaggedSizes, f32, reference } from "../support/matmulParity.ts"
import { finished, spawnNode } from "../support/processes.ts"

const cpuKernels = makeCpuKernels()
const matmulWasm = makeWasmMatmul()

const bitsOf = (x: Float32Array): Uint32Array => new Uint32Array(x.buffer, x.byteOffset, x.length)

describe("wasm SIMD matmul", () => {
  it("matches a float64 reference for every transpose combination, accumulate and ragged sizes 1..70 (property)", () => {
    checkRaggedSizes(makeWasmMatmul("simd"), 200)
  })

  it("blocks a long shared dimension (several blocks, a ragged last one) and runs the model's skinny shapes without losing accuracy", () => {
    checkBlockedAndSkinny(makeWasmMatmul("simd"))
  })

  it("the fused multiply-add build (relaxed SIMD) meets the same tolerance, in a node that enables it", async () => {
    if (matmulVariantAvailable("fma")) {
      checkRaggedSizes(makeWasmMatmul("fma"), 100)
      checkBlockedAndSkinny(makeWasmMatmul("fma"))
    }
    // Node 20 runs relaxed SIMD only behind a flag: the child checks the fused build there.
    const child = await finished(
      spawnNode(["--experimental-wasm-relaxed-simd", "--import", "tsx", "test/support/fmaMatmulChild.ts"])
    )
    assert.strictEqual(child.code, 0, child.stderr)
    const report = JSON.parse(child.stdout.trim()) as { defaultVariant: string; differs: boolean }
    // With relaxed SIMD available the fused build is the default.
    assert.strictEqual(report.defaultVariant, "fma")
  })

  it("the backend runs the build this runtime picks: plain SIMD unless relaxed SIMD validates", () => {
    const [m, n, k] = [9, 21, 300]
    const a = f32(m * k, 70)
    const b = f32(k * n, 71)
    const viaBackend = new Float32Array(m * n)
    cpuKernels.matmul(a, b, viaBackend, m, n, k, false, false, false)
    const viaDefault = new Float32Array(m * n)
    makeWasmMatmul(defaultMatmulVariant)(a, b, viaDefault, m, n, k, false, false, false)
    assert.deepStrictEqual(bitsOf(viaBackend), bitsOf(viaDefault))
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
