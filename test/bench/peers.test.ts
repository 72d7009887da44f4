/**
 * The TensorFlow.js peers of the kernel benchmark compute the same product as continuum's cpu
 * matmul: a 64×64×64 product, in both B layouts the benchmark uses, agrees within 1e-4 relative
 * (max |peer − cpu| ≤ 1e-4 · max |cpu|; float32 rounding here is ~1e-6, while a wrong layout or
 * transpose is an O(1) difference). A peer that does not load here (a production install has no
 * development dependencies) is skipped with its reason printed.
 */
import { assert, describe, it } from "@effect/vitest"
import { probeTfjsPeers, type TfjsPeerName, tfjsPeerNames } from "../../src/bench/peers.ts"
import { makeCpuKernels } from "../../src/kernels/cpu/index.ts"
import { uniform } from "../../src/tensor/rng.ts"

const cpuKernels = makeCpuKernels()

const N = 64
const TOL = 1e-4

const values = (stream: number, n: number): Float32Array => {
  const out = new Float32Array(n)
  for (let i = 0; i < n; i++) out[i] = 2 * uniform(77, stream, i) - 1
  return out
}

const relativeError = (got: Float32Array, want: Float32Array): number => {
  assert.strictEqual(got.length, want.length, "length")
  let diff = 0
  let scale = 0
  for (let i = 0; i < want.length; i++) {
    diff = Math.max(diff, Math.abs(got[i] - want[i]))
    scale = Math.max(scale, Math.abs(want[i]))
  }
  return diff / scale
}

const report = await probeTfjsPeers()
for (const u of report.unavailable) console.warn(`peer ${u.name} skipped: ${u.reason}`)
const skipReason = (name: TfjsPeerName): string | undefined => report.unavailable.find((u) => u.name === name)?.reason

describe("TensorFlow.js peers", () => {
  for (const name of tfjsPeerNames) {
    // The square case is the benchmark's; the rectangular one catches any m/n/k mix-up.
    it(`${name}: ${N}×${N}×${N} (and 24×40×56) matmul agrees with the cpu backend within ${TOL} relative`, (ctx) => {
      const reason = skipReason(name)
      if (reason !== undefined) return ctx.skip(reason)
      const peer = report.peers.find((p) => p.name === name)!
      for (const [m, n, k] of [[N, N, N], [24, 40, 56]]) {
        const a = values(1, m * k)
        for (const transB of [false, true]) {
          const b = values(transB ? 3 : 2, k * n)
          const want = new Float32Array(m * n)
          cpuKernels.matmul(a, b, want, m, n, k, false, transB, false)
          const err = relativeError(peer.matmul(a, b, m, n, k, transB), want)
          assert.isAtMost(err, TOL, `${name} ${m}×${n}×${k} transB=${transB}: relative error ${err}`)
        }
      }
    })

    it(`${name}: a prepared product gives the same result on every run and frees its tensors`, (ctx) => {
      const reason = skipReason(name)
      if (reason !== undefined) return ctx.skip(reason)
      const peer = report.peers.find((p) => p.name === name)!
      const a = values(4, N * N)
      const b = values(5, N * N)
      const want = new Float32Array(N * N)
      cpuKernels.matmul(a, b, want, N, N, N, false, true, false)
      const before = peer.tensorsInUse()
      const prepared = peer.prepareMatmul(a, b, N, N, N, true)
      try {
        for (let i = 0; i < 3; i++) assert.isAtMost(relativeError(Float32Array.from(prepared.run()), want), TOL)
        assert.strictEqual(peer.tensorsInUse(), before + 2, "only the two operands stay alive between runs")
      } finally {
        prepared.dispose()
      }
      assert.strictEqual(peer.tensorsInUse(), before, "dispose frees the operands")
    })
  }

  it("rejects operands whose length does not match the shape, naming the field", (ctx) => {
    const peer = report.peers[0]
    if (peer === undefined) return ctx.skip(report.unavailable.map((u) => `${u.name}: ${u.reason}`).join("; "))
    assert.throws(
      () => peer.matmul(new Float32Array(6), new Float32Array(6), 2, 3, 4),
      /a has length 6, expected m·k = 8/
    )
    assert.throws(
      () => peer.matmul(new Float32Array(8), new Float32Array(8), 2, 3, 4),
      /b has length 8, expected k·n = 12/
    )
  })
})
