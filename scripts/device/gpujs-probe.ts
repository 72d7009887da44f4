/**
 * Which gpu.js modes run in this process, and on what: for each mode the backend is asked for, the
 * mode that runs and why it stepped down; for headless GL, the GL driver libraries this process
 * actually loaded (headless-gl reports its renderer as "ANGLE", so /proc/self/maps is what tells
 * Mesa's llvmpipe from a GPU driver); and one 512³ matmul per running mode, timed, with its traffic.
 *
 *   npx tsx scripts/device/gpujs-probe.ts [OUT.json [MODE...]]   (scripts/device/gpujs-probe.sh runs it)
 *
 * MODE: the gpu.js modes to ask for (default: all).
 *
 * webgl is not among the modes: gpu.js's webgl mode needs a browser's WebGL, which Node has not.
 */
import { Effect } from "effect"
import * as fs from "node:fs"
import { gpujsModes, makeGpujsKernels, type Traffic } from "../../src/kernels/gpujs/index.ts"

interface ModeReport {
  readonly requested: string
  readonly runs: string | undefined
  readonly reason: string | undefined
  /** GL driver libraries mapped into this process after the mode opened (headlessgl only). */
  readonly glLibraries: ReadonlyArray<string> | undefined
  readonly matmul512: { readonly msPerCall: number; readonly traffic: Traffic } | undefined
}

const driverPattern = /(libGLX_\w+|libnvidia-\w+|libGL\.so|libEGL\w*|\w+_dri\.so|libgallium[-\w.]*|libLLVM[-\w.]*)/

const mappedGlLibraries = (): Array<string> => {
  const maps = fs.readFileSync("/proc/self/maps", "utf8")
  const paths = new Set<string>()
  for (const line of maps.split("\n")) {
    const path = line.split(/\s+/)[5]
    if (path !== undefined && path.startsWith("/") && driverPattern.test(path)) paths.add(path)
  }
  return [...paths].sort()
}

const N = 512

/** Opens `requested`; times the matmul unless the mode it runs was timed already (`timed`). */
const probeMode = (requested: (typeof gpujsModes)[number], timed: Set<string>) =>
  Effect.scoped(Effect.gen(function*() {
    const opened = yield* Effect.result(makeGpujsKernels(requested))
    if (opened._tag === "Failure") {
      return {
        requested,
        runs: undefined,
        reason: opened.failure.message,
        glLibraries: undefined,
        matmul512: undefined
      } satisfies ModeReport
    }
    const g = opened.success
    const glLibraries = g.mode === "headlessgl" ? mappedGlLibraries() : undefined
    if (timed.has(g.mode)) return { requested, runs: g.mode, reason: g.reason, glLibraries, matmul512: undefined }
    timed.add(g.mode)
    const a = Float32Array.from({ length: N * N }, (_, i) => (i % 7) - 3)
    const b = Float32Array.from({ length: N * N }, (_, i) => (i % 5) - 2)
    const c = new Float32Array(N * N)
    g.kernels.matmul(a, b, c, N, N, N, false, true, false) // compiles the kernel
    const times: Array<number> = []
    let traffic: Traffic = { bytesUp: 0, bytesDown: 0, launches: 0 }
    for (let i = 0; i < 3; i++) {
      g.device.startCounting()
      const t0 = performance.now()
      g.kernels.matmul(a, b, c, N, N, N, false, true, false)
      times.push(performance.now() - t0)
      traffic = g.device.stopCounting()
    }
    return {
      requested,
      runs: g.mode,
      reason: g.reason,
      glLibraries,
      matmul512: { msPerCall: times.sort((x, y) => x - y)[1], traffic }
    } satisfies ModeReport
  }))

const main = Effect.gen(function*() {
  const reports: Array<ModeReport> = []
  const timed = new Set<string>()
  // webasm and cpu are slow at 512³ but bounded (seconds); gpu and webgpu resolve to one of the others.
  const asked = process.argv.slice(3)
  for (const mode of gpujsModes.filter((m) => asked.length === 0 || asked.includes(m))) {
    const r = yield* probeMode(mode, timed)
    reports.push(r)
    const timing = r.matmul512 === undefined
      ? ""
      : `; matmul ${N}³ ${
        r.matmul512.msPerCall.toFixed(1)
      } ms/call, ${r.matmul512.traffic.bytesUp} B up, ${r.matmul512.traffic.bytesDown} B down, ${r.matmul512.traffic.launches} launches`
    console.log(`mode ${mode}: runs ${r.runs ?? "nothing"}${r.reason ? ` (${r.reason})` : ""}${timing}`)
    if (r.glLibraries !== undefined) console.log(`  GL libraries loaded: ${r.glLibraries.join(" ") || "none found"}`)
  }
  console.log("mode webgl: not a Node mode (gpu.js's webgl backend needs a browser's WebGL context)")
  const out = process.argv[2]
  if (out !== undefined) fs.writeFileSync(out, JSON.stringify({ node: process.version, modes: reports }, null, 2))
})

Effect.runPromise(main).catch((e) => {
  console.error(e)
  process.exitCode = 1
})
