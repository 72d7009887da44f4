import { Effect } from "effect"
import { makeGpujsKernels } from "../src/kernels/gpujs/index.ts"
import { chunkedSum, idiv, kernelSource } from "../src/kernels/gpujs/source.ts"
await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
  const g = yield* makeGpujsKernels("headlessgl")
  const dev = g.device
  const n = 128
  const a = Float32Array.from({ length: n * n }, () => Math.random()), b = a.slice()
  const variants: Record<string, { src: string; c: Record<string, number> }> = {
    guarded: { src: kernelSource(["a", "b"], `const i = this.thread.x; const r = ${idiv("i", "this.constants.N")}; const c = i - r * this.constants.N;${chunkedSum({ result: "t", index: "p", bound: "K", term: "a[r * this.constants.K + p] * b[c * this.constants.K + p]" })}\n return t;`), c: { N: n, K: n, K_CH: 12, K_NC: 11 } },
    exact: { src: kernelSource(["a", "b"], `const i = this.thread.x; const r = ${idiv("i", "this.constants.N")}; const c = i - r * this.constants.N;${chunkedSum({ result: "t", index: "p", bound: "K", term: "a[r * this.constants.K + p] * b[c * this.constants.K + p]" })}\n return t;`), c: { N: n, K: n, K_CH: 16, K_NC: 8 } },
    plain: { src: kernelSource(["a", "b"], `const i = this.thread.x; const r = ${idiv("i", "this.constants.N")}; const c = i - r * this.constants.N; let t = 0; for (let p = 0; p < this.constants.K; p++) { t += a[r * this.constants.K + p] * b[c * this.constants.K + p]; }\n return t;`), c: { N: n, K: n } },
  }
  for (const [name, v] of Object.entries(variants)) {
    dev.begin(); const ua = dev.upload(a), ub = dev.upload(b)
    const run = () => { const r = dev.run(name, () => ({ source: v.src, output: n * n, constants: v.c }), ua, ub); dev.readNew(r, n * n) }
    run(); run()
    const t0 = performance.now(); for (let i = 0; i < 5; i++) run(); console.log(name, ((performance.now() - t0) / 5).toFixed(2), "ms")
  }
})))
