import { Effect } from "effect"
import { cpuKernels as cpu } from "../src/kernels/cpu/index.ts"
import { makeGpujsKernels, type GpujsMode } from "../src/kernels/gpujs/index.ts"

const rnd = (n: number, s = 1) => Float32Array.from({ length: n }, () => (Math.random() * 2 - 1) * s)
const maxDiff = (a: Float32Array, b: Float32Array) => { let m = 0; for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i])); return m }

const mode = (process.argv[2] ?? "headlessgl") as GpujsMode
const prog = Effect.gen(function*() {
  const t0 = performance.now()
  const g = yield* makeGpujsKernels(mode)
  console.log("opened", g.mode, g.reason, (performance.now() - t0).toFixed(0), "ms")
  const k = g.kernels
  for (const [tA, tB, acc] of [[false, false, false], [true, false, true], [false, true, false], [true, true, true]] as const) {
    const m = 13, n = 9, kk = 37
    const a = rnd(m * kk), b = rnd(kk * n), c0 = rnd(m * n)
    const c1 = c0.slice(), c2 = c0.slice()
    cpu.matmul(a, b, c1, m, n, kk, tA, tB, acc); k.matmul(a, b, c2, m, n, kk, tA, tB, acc)
    console.log("matmul", tA, tB, acc, maxDiff(c1, c2))
  }
  {
    const x = rnd(100, 5), y = rnd(100), o1 = new Float32Array(100), o2 = new Float32Array(100)
    for (const op of ["add", "mul"] as const) { cpu[op](x, y, o1); k[op](x, y, o2); console.log(op, maxDiff(o1, o2)) }
    cpu.scale(x, 0.3, o1); k.scale(x, 0.3, o2); console.log("scale", maxDiff(o1, o2))
    cpu.silu(x, o1); k.silu(x, o2); console.log("silu", maxDiff(o1, o2))
    o1.set(y); o2.set(y); cpu.siluBackward(x, y, o1, true); k.siluBackward(x, y, o2, true); console.log("siluB", maxDiff(o1, o2))
    const d1 = x.slice(), d2 = x.slice(); cpu.addInPlace(d1, y); k.addInPlace(d2, y); console.log("addInPlace", maxDiff(d1, d2))
    cpu.softmax(x, o1, 10, 10); k.softmax(x, o2, 10, 10); console.log("softmax", maxDiff(o1, o2))
  }
  {
    const rows = 6, dim = 10, x = rnd(rows * dim, 3), w = rnd(dim), o1 = new Float32Array(rows * dim), o2 = o1.slice(), r1 = new Float32Array(rows), r2 = r1.slice()
    cpu.rmsnorm(x, w, o1, r1, rows, dim, 1e-5); k.rmsnorm(x, w, o2, r2, rows, dim, 1e-5); console.log("rmsnorm", maxDiff(o1, o2), maxDiff(r1, r2))
    const dy = rnd(rows * dim), dx1 = rnd(rows * dim), dx2 = dx1.slice(), dw1 = rnd(dim), dw2 = dw1.slice()
    cpu.rmsnormBackward(x, w, r1, dy, dx1, dw1, rows, dim, true); k.rmsnormBackward(x, w, r1, dy, dx2, dw2, rows, dim, true)
    console.log("rmsnormB", maxDiff(dx1, dx2), maxDiff(dw1, dw2))
  }
  {
    const B = 2, T = 5, H = 3, hd = 4, n = B * T * H * hd, x = rnd(n), o1 = new Float32Array(n), o2 = o1.slice()
    for (const inv of [false, true]) { cpu.rope(x, o1, B * T, T, H, hd, 10000, inv); k.rope(x, o2, B * T, T, H, hd, 10000, inv); console.log("rope", inv, maxDiff(o1, o2)) }
    const q = rnd(n), kk = rnd(n), v = rnd(n), p1 = new Float32Array(B * H * T * T), p2 = p1.slice()
    cpu.attention(q, kk, v, p1, o1, B, T, H, hd); k.attention(q, kk, v, p2, o2, B, T, H, hd); console.log("attention", maxDiff(p1, p2), maxDiff(o1, o2))
    const dO = rnd(n), a1 = [new Float32Array(n), new Float32Array(n), new Float32Array(n)], a2 = [new Float32Array(n), new Float32Array(n), new Float32Array(n)]
    cpu.attentionBackward(q, kk, v, p1, dO, a1[0], a1[1], a1[2], B, T, H, hd); k.attentionBackward(q, kk, v, p1, dO, a2[0], a2[1], a2[2], B, T, H, hd)
    console.log("attentionB", maxDiff(a1[0], a2[0]), maxDiff(a1[1], a2[1]), maxDiff(a1[2], a2[2]))
  }
  {
    const rows = 7, V = 11, l = rnd(rows * V, 4), t = Int32Array.from({ length: rows }, () => Math.floor(Math.random() * V)), d1 = new Float32Array(rows * V), d2 = d1.slice()
    const L1 = cpu.crossEntropy(l, t, d1, rows, V, 0.5), L2 = k.crossEntropy(l, t, d2, rows, V, 0.5); console.log("CE", L1 - L2, maxDiff(d1, d2))
  }
  {
    const n = 50, p = rnd(n), gr = rnd(n), m = rnd(n, 0.1), v = Float32Array.from(rnd(n), (x) => x * x)
    const s1 = [p.slice(), m.slice(), v.slice()], s2 = [p.slice(), m.slice(), v.slice()]
    cpu.adamw(s1[0], gr, s1[1], s1[2], 1e-3, 0.9, 0.95, 1e-8, 0.1, 3); k.adamw(s2[0], gr, s2[1], s2[2], 1e-3, 0.9, 0.95, 1e-8, 0.1, 3)
    console.log("adamw", maxDiff(s1[0], s2[0]), maxDiff(s1[1], s2[1]), maxDiff(s1[2], s2[2]))
    for (const nest of [false, true]) for (const step of [1, 2]) {
      const t1 = [p.slice(), m.slice()], t2 = [p.slice(), m.slice()]
      cpu.sgd(t1[0], gr, t1[1], 0.1, 0.9, nest, 0.01, step); k.sgd(t2[0], gr, t2[1], 0.1, 0.9, nest, 0.01, step)
      console.log("sgd", nest, step, maxDiff(t1[0], t2[0]), maxDiff(t1[1], t2[1]))
    }
  }
  console.log("mode", k.mode, "compiled", g.device.compiledCount, (performance.now() - t0).toFixed(0), "ms")
})
await Effect.runPromise(Effect.scoped(prog))
console.log("closed; DISPLAY", process.env.DISPLAY)
