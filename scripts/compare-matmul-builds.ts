/**
 * Times the WebAssembly matmul of several git revisions against each other in one process,
 * interleaved (every round times each build on each shape in turn, so a noisy neighbour on a
 * shared machine slows all builds alike), and prints the median GFLOP/s per shape and build:
 *
 *   node --import tsx scripts/compare-matmul-builds.ts 456a038 HEAD
 *   node --experimental-wasm-relaxed-simd --import tsx scripts/compare-matmul-builds.ts 456a038 HEAD
 *
 * Each revision's committed src/kernels/cpu/wasm/matmulWasm.generated.ts is read with `git show`;
 * every base64 module it embeds is a build (the fused multiply-add one only where the runtime
 * validates it). The driver here lays out memory for tiles of up to 8 rows, so it serves every
 * revision whose `matmul` export has the current signature. The shapes are the linear layers of
 * the default model (B·T = 1024 rows) and of mid-t128 (2048 rows), forward and both backward
 * products, plus 512³.
 */
import { execFileSync } from "node:child_process"

interface Build {
  readonly name: string
  readonly run: (a: Float32Array, b: Float32Array, m: number, n: number, k: number, ta: boolean, tb: boolean) => void
}

interface WasmApi {
  readonly validate: (bytes: Uint8Array) => boolean
  readonly Module: new(bytes: Uint8Array) => object
  readonly Instance: new(module: object, imports: object) => { readonly exports: Record<string, unknown> }
}
interface Memory {
  readonly buffer: ArrayBuffer
  grow(pages: number): number
}
type MatmulExport = (...args: Array<number>) => void

const wasmApi = (globalThis as unknown as { readonly WebAssembly: WasmApi }).WebAssembly
const KC = 256
const MR_MAX = 8
const NR = 8

const modulesAt = (rev: string): Array<[string, Uint8Array]> => {
  const text = execFileSync("git", ["show", `${rev}:src/kernels/cpu/wasm/matmulWasm.generated.ts`], {
    encoding: "utf8"
  })
  const found: Array<[string, Uint8Array]> = []
  for (const match of text.matchAll(/export const (\w+) =\n((?:\s+"[^"]*"(?: \+)?\n?)+)/g)) {
    const base64 = [...match[2].matchAll(/"([^"]*)"/g)].map((m) => m[1]).join("")
    found.push([match[1], Uint8Array.from(Buffer.from(base64, "base64"))])
  }
  return found
}

const buildOf = (name: string, bytes: Uint8Array): Build => {
  const instance = new wasmApi.Instance(new wasmApi.Module(bytes), {})
  const memory = instance.exports.memory as Memory
  const kernel = instance.exports.matmul as MatmulExport
  const align = (n: number): number => (n + 3) & ~3
  return {
    name,
    run: (a, b, m, n, k, ta, tb) => {
      const npad = Math.ceil(n / NR) * NR
      const mpad = Math.ceil(m / MR_MAX) * MR_MAX
      const kc = Math.min(k, KC)
      const bAt = align(m * k)
      const cAt = bAt + align(k * n)
      const paAt = cAt + align(mpad * npad)
      const pbAt = paAt + align(kc * MR_MAX)
      const bytes = (pbAt + kc * npad) * 4
      if (memory.buffer.byteLength < bytes) memory.grow(Math.ceil((bytes - memory.buffer.byteLength) / 65536))
      const heap = new Float32Array(memory.buffer)
      heap.set(a, 0)
      heap.set(b, bAt)
      kernel(0, bAt * 4, cAt * 4, paAt * 4, pbAt * 4, m, n, k, ta ? 1 : 0, tb ? 1 : 0, 0, KC)
      // the copy out, as the backend does
      heap.slice(cAt, cAt + m * n)
    }
  }
}

const revs = process.argv.slice(2)
if (revs.length === 0) {
  console.error("usage: compare-matmul-builds.ts REV [REV …]")
  process.exit(2)
}
const builds: Array<Build> = []
for (const rev of revs) {
  for (const [constName, bytes] of modulesAt(rev)) {
    const label = `${rev}${constName.includes("Relaxed") ? " fma" : ""}`
    if (wasmApi.validate(bytes)) builds.push(buildOf(label, bytes))
    else {console.error(
        `${label}: not valid on this runtime (relaxed SIMD needs --experimental-wasm-relaxed-simd on Node 20), skipped`
      )}
  }
}

const shapes: Array<[string, number, number, number, boolean, boolean]> = []
for (const [rows, d, f, v] of [[1024, 64, 176, 256], [2048, 128, 352, 256]]) {
  for (const [out, inF] of [[d, d], [f, d], [d, f], [v, d]]) {
    shapes.push([`${rows}×${out}×${inF} fwd`, rows, out, inF, false, true])
    shapes.push([`${rows}×${inF}×${out} dx`, rows, inF, out, false, false])
    shapes.push([`${out}×${inF}×${rows} dW`, out, inF, rows, true, false])
  }
}
shapes.push(["512×512×512 NN", 512, 512, 512, false, false])

const rounds = Number(process.env.ROUNDS ?? 7)
const random = (n: number): Float32Array => Float32Array.from({ length: n }, () => Math.random() - 0.5)
const samples = shapes.map(() => builds.map((): Array<number> => []))
for (let round = 0; round < rounds; round++) {
  shapes.forEach(([, m, n, k, ta, tb], s) => {
    const a = random(m * k)
    const b = random(k * n)
    const flops = 2 * m * n * k
    const reps = Math.max(2, Math.ceil(1e7 / flops))
    builds.forEach((build, i) => {
      build.run(a, b, m, n, k, ta, tb)
      const t0 = performance.now()
      for (let r = 0; r < reps; r++) build.run(a, b, m, n, k, ta, tb)
      samples[s][i].push((flops * reps) / ((performance.now() - t0) * 1e6))
    })
  })
}
const median = (xs: Array<number>): number => xs.slice().sort((x, y) => x - y)[Math.floor(xs.length / 2)]
console.log(`median GFLOP/s of ${rounds} interleaved rounds (m×n×k; fwd = x·Wᵀ, dx = dy·W, dW = dyᵀ·x)`)
console.table(Object.fromEntries(shapes.map(([name], s) => [
  name,
  Object.fromEntries(builds.map((build, i) => [build.name, +median(samples[s][i]).toFixed(1)]))
])))
const all = builds.map((_, i) => median(shapes.slice(0, -1).map((_, s) => median(samples[s][i]))))
console.log(`median over the model shapes: ${builds.map((b, i) => `${b.name} ${all[i].toFixed(1)}`).join(", ")}`)
