/**
 * Kernel benchmarks: every kernel family at growing sizes, on the cpu backend and on every gpu.js
 * mode that runs here, with the gpujs time split into upload, compute and readback.
 *
 *   continuum bench kernels [--quick] [--modes=headlessgl,webasm] [--families=matmul,attention] [--json=FILE]
 *
 * Each case is warmed up (the first call compiles the gpu.js kernels for that shape), then timed
 * `reps` times; rows report medians. Stage times come from the backend's profiling mode, which
 * waits for the device (GL `finish`) at each stage boundary so work is charged to the stage that
 * issued it. The crossover of a mode is the smallest measured size from which it beats the cpu
 * backend at that size and every larger one.
 *
 * The matmul family also measures TensorFlow.js (backends "peer:tfjs-cpu", "peer:tfjs-wasm") when
 * its packages are installed (development dependencies), to show where continuum's matmul stands.
 * Peers are references, not continuum backends: they take no part in the crossovers.
 */
import { Effect } from "effect"
import { makeCpuKernels } from "../kernels/cpu/index.ts"
import {
  type GpujsKernels,
  type GpujsMode,
  gpujsModes,
  makeGpujsKernels,
  type Stage,
  type StageTimes,
  type Traffic
} from "../kernels/gpujs/index.ts"
import type { KernelsShape } from "../kernels/KernelsShape.ts"
import type { OnProgress } from "../tensor/progress.ts"
import { uniform } from "../tensor/rng.ts"
import { type PreparedMatmul, probeTfjsPeers, type TfjsPeer } from "./peers.ts"
import { median, timeSync } from "./timing.ts"

const cpuKernels = makeCpuKernels()

import { kernelFamilies, type KernelFamily } from "./families.ts"

export { kernelFamilies, type KernelFamily } from "./families.ts"

export interface KernelBenchOptions {
  /** gpu.js modes to ask for (default: all five; each runs in the mode it actually gets, once). */
  readonly modes?: ReadonlyArray<GpujsMode>
  /** Families to run (default: all). */
  readonly families?: ReadonlyArray<KernelFamily>
  /** "quick": the three smallest sizes of each family; "full" (default): all sizes. */
  readonly scale?: "quick" | "full"
  /** Timed calls per case after warm-up (default 5; fast cases repeat for at least 150 ms). */
  readonly reps?: number
  /** Untimed calls per case first, compiling kernels (default 2; fast cases warm up for at least 150 ms). */
  readonly warmup?: number
  /** A backend whose median call in a family exceeds this skips that family's larger sizes (default 4000 ms). */
  readonly maxCallMs?: number
  /** Also time the TensorFlow.js peers in the matmul family when they are installed (default true). */
  readonly peers?: boolean
  /** Called with each row as it is measured (progress output). */
  readonly onRow?: (row: KernelBenchRow) => void
  /** Told before each case (family and size) how many cases are done, never inside a timing. */
  readonly onProgress?: OnProgress | undefined
}

export interface KernelBenchRow {
  readonly family: KernelFamily
  /** Human-readable shape, e.g. "256×256×256". */
  readonly size: string
  /** Position of the size within its family, smallest first. */
  readonly sizeIndex: number
  /** "cpu", "gpujs:<mode>", or "peer:<name>" for a reference library (e.g. "peer:tfjs-wasm"). */
  readonly backend: string
  readonly reps: number
  /** Median wall time of one call, milliseconds (undefined when skipped). */
  readonly msPerCall: number | undefined
  /** gpujs only: median upload, compute and readback times, milliseconds. */
  readonly uploadMs: number | undefined
  readonly computeMs: number | undefined
  readonly readbackMs: number | undefined
  /** gpujs only: what one call moves across the gpu.js boundary: bytes up, bytes down, kernel launches. */
  readonly traffic: Traffic | undefined
  /** Arithmetic rate over the whole call (families whose cost is arithmetic). */
  readonly gflops: number | undefined
  /** Host↔kernel traffic rate over the whole call: operand bytes read and written / time. */
  readonly gbps: number | undefined
  /** cpu time / this time at the same size (> 1: faster than the cpu backend). */
  readonly speedupVsCpu: number | undefined
  /** Why the case was not measured. */
  readonly skipped: string | undefined
}

export interface KernelBenchCrossover {
  readonly family: KernelFamily
  readonly backend: string
  /** Smallest size from which the backend beats cpu at every measured larger size; undefined: never. */
  readonly size: string | undefined
}

export interface KernelBenchBackend {
  readonly requested: string
  readonly backend: string
  readonly reason: string | undefined
}

export interface KernelBenchResult {
  readonly rows: ReadonlyArray<KernelBenchRow>
  readonly crossovers: ReadonlyArray<KernelBenchCrossover>
  /** Which modes were asked for, which backend ran them, and why they stepped down. */
  readonly backends: ReadonlyArray<KernelBenchBackend>
}

interface Case {
  readonly size: string
  readonly flops?: number
  readonly bytes: number
  readonly run: (k: KernelsShape) => void
  /** The same product through a reference library, operands uploaded (families that have one). */
  readonly peer?: (p: TfjsPeer) => PreparedMatmul
}

/**
 * A case's operands live in the cpu kernels' storage, as a training run's tensors do, so the cpu
 * rows time the kernels working in place (the gpujs rows take them as any array); they go back to
 * the storage when the case is done.
 */
const caseTensors: Array<Float32Array> = []
const zeros = (n: number): Float32Array => {
  const x = cpuKernels.storage.allocate(n)
  caseTensors.push(x)
  return x
}
const releaseCaseTensors = (): void => {
  for (const x of caseTensors) cpuKernels.storage.release(x)
  caseTensors.length = 0
}

const values = (stream: number, n: number, scale = 1): Float32Array => {
  const out = zeros(n)
  for (let i = 0; i < n; i++) out[i] = (2 * uniform(1234, stream, i) - 1) * scale
  return out
}

const F = 4 // bytes per float32

/** Case builders per family, smallest size first. Arrays are made when a case starts. */
const families: Record<KernelFamily, ReadonlyArray<() => Case>> = {
  matmul: [32, 64, 128, 256, 512].map((n) => () => {
    const a = values(1, n * n)
    const b = values(2, n * n)
    const c = zeros(n * n)
    return {
      size: `${n}×${n}×${n}`,
      flops: 2 * n * n * n,
      bytes: 3 * n * n * F,
      run: (k) => k.matmul(a, b, c, n, n, n, false, true, false),
      peer: (p) => p.prepareMatmul(a, b, n, n, n, true)
    }
  }),
  add: [1e3, 1e4, 1e5, 1e6].map((n) => () => {
    const a = values(1, n)
    const b = values(2, n)
    const out = zeros(n)
    return { size: `${n}`, bytes: 3 * n * F, run: (k) => k.add(a, b, out) }
  }),
  silu: [1e3, 1e4, 1e5, 1e6].map((n) => () => {
    const x = values(1, n, 4)
    const out = zeros(n)
    return { size: `${n}`, bytes: 2 * n * F, run: (k) => k.silu(x, out) }
  }),
  softmax: [16, 64, 256, 1024, 4096].map((rows) => () => {
    const cols = 256
    const x = values(1, rows * cols, 4)
    const out = zeros(rows * cols)
    return { size: `${rows}×${cols}`, bytes: 2 * rows * cols * F, run: (k) => k.softmax(x, out, rows, cols) }
  }),
  rmsnorm: [64, 256, 1024, 4096, 16384].map((rows) => () => {
    const dim = 64
    const x = values(1, rows * dim)
    const w = values(2, dim)
    const out = zeros(rows * dim)
    const rstd = zeros(rows)
    return {
      size: `${rows}×${dim}`,
      bytes: (2 * rows * dim + dim + rows) * F,
      run: (k) => k.rmsnorm(x, w, out, rstd, rows, dim, 1e-5)
    }
  }),
  rmsnormBackward: [64, 256, 1024, 4096, 16384].map((rows) => () => {
    const dim = 64
    const x = values(1, rows * dim)
    const w = values(2, dim)
    const rstd = zeros(rows)
    cpuKernels.rmsnorm(x, w, zeros(rows * dim), rstd, rows, dim, 1e-5)
    const dy = values(3, rows * dim)
    const dx = zeros(rows * dim)
    const dw = zeros(dim)
    return {
      size: `${rows}×${dim}`,
      bytes: (3 * rows * dim + 3 * dim + rows) * F,
      run: (k) => k.rmsnormBackward(x, w, rstd, dy, dx, dw, rows, dim, false)
    }
  }),
  rope: [64, 256, 1024, 4096].map((rows) => () => {
    const T = 64, H = 4, hd = 16
    const x = values(1, rows * H * hd)
    const out = zeros(rows * H * hd)
    return {
      size: `${rows}×${H}×${hd}`,
      bytes: 2 * rows * H * hd * F,
      run: (k) => k.rope(x, out, rows, T, H, hd, 10000, false)
    }
  }),
  // One case runs on every backend, so the saved buffer is as large as the largest backend needs
  // (gpujs keeps the probabilities); bytes count the cpu path's traffic (one log-sum-exp a row).
  attention: [[1, 64], [4, 64], [16, 64], [16, 128], [16, 256]].map(([B, T]) => () => {
    const H = 4, hd = 16, n = B * T * H * hd
    const q = values(1, n), kk = values(2, n), v = values(3, n)
    const saved = zeros(B * H * T * T)
    const out = zeros(n)
    return {
      size: `B${B} T${T} H${H} hd${hd}`,
      flops: 2 * B * H * T * (T + 1) * hd,
      bytes: (4 * n + B * H * T) * F,
      run: (k) => k.attention(q, kk, v, saved, out, B, T, H, hd)
    }
  }),
  attentionBackward: [[1, 64], [4, 64], [16, 64], [16, 128], [16, 256]].map(([B, T]) => () => {
    const H = 4, hd = 16, n = B * T * H * hd
    const q = values(1, n), kk = values(2, n), v = values(3, n), dOut = values(4, n)
    const saved = zeros(B * H * T * T)
    const out = zeros(n)
    // What the cpu backend saves; the gpujs rows read the same buffer as probabilities, whose
    // values do not change its cost.
    cpuKernels.attention(q, kk, v, saved, out, B, T, H, hd)
    const dq = zeros(n), dk = zeros(n), dv = zeros(n)
    return {
      size: `B${B} T${T} H${H} hd${hd}`,
      flops: 4 * B * H * T * (T + 1) * hd,
      bytes: (8 * n + B * H * T) * F,
      run: (k) => k.attentionBackward(q, kk, v, out, saved, dOut, dq, dk, dv, B, T, H, hd)
    }
  }),
  crossEntropy: [64, 256, 1024, 4096].map((rows) => () => {
    const vocab = 256
    const logits = values(1, rows * vocab, 4)
    const targets = Int32Array.from({ length: rows }, (_, r) => Math.floor(uniform(1234, 2, r) * vocab))
    const d = zeros(rows * vocab)
    return {
      size: `${rows}×${vocab}`,
      bytes: (2 * rows * vocab + rows) * F,
      run: (k) => void k.crossEntropy(logits, targets, d, rows, vocab, 1 / rows)
    }
  }),
  adamw: [1e3, 1e4, 1e5, 1e6].map((n) => () => {
    const p = values(1, n), g = values(2, n), m = zeros(n), v = zeros(n)
    let step = 0
    return { size: `${n}`, bytes: 7 * n * F, run: (k) => k.adamw(p, g, m, v, 1e-3, 0.9, 0.95, 1e-8, 0.1, ++step) }
  })
}

interface Timing {
  /** Median wall time of one call. */
  readonly total: number
  readonly reps: number
  /** gpujs only: median stage times of the timed calls. */
  readonly upload: number | undefined
  readonly compute: number | undefined
  readonly readback: number | undefined
  /** gpujs only: one timed call's traffic (every call of a case issues the same uploads, launches and readbacks). */
  readonly traffic: Traffic | undefined
}

/** Fast cases repeat until this much time has passed, so JIT warm-up and timer resolution wash out. */
const MIN_PHASE_MS = 150

const timeCase = (call: () => void, g: GpujsKernels | undefined, reps: number, warmup: number): Timing => {
  const stages: Array<StageTimes> = []
  let traffic: Traffic | undefined
  const latency = timeSync((phase) => {
    g?.device.startProfiling()
    g?.device.startCounting()
    call()
    const counted = g?.device.stopCounting()
    const times = g?.device.stopProfiling()
    if (times !== undefined && phase === "run") {
      stages.push(times)
      traffic = counted
    }
  }, { iterations: reps, timeMs: MIN_PHASE_MS, warmupIterations: warmup, warmupMs: MIN_PHASE_MS })
  const stage = (s: Stage) => g === undefined ? undefined : median(stages.map((t) => t[s]))
  return {
    total: latency.p50,
    reps: latency.samplesCount,
    upload: stage("upload"),
    compute: stage("compute"),
    readback: stage("readback"),
    traffic
  }
}

/** Backend label prefix of reference libraries: shown for comparison, never part of a crossover. */
const PEER_PREFIX = "peer:"

/** One backend measured on a case: a continuum backend, or a reference library. */
interface Contender {
  readonly name: string
  /** Times the case; gpujs contenders also split each call into its stages. */
  readonly measure: (reps: number, warmup: number) => Timing
}

const backendContender = (c: Case, name: string, kernels: KernelsShape, g: GpujsKernels | undefined): Contender => ({
  name,
  measure: (reps, warmup) => timeCase(() => c.run(kernels), g, reps, warmup)
})

/** A peer's operands are uploaded before timing (untimed) and freed after; the timed call is the product and its readback. */
const peerContender = (peerCase: (p: TfjsPeer) => PreparedMatmul, peer: TfjsPeer): Contender => ({
  name: `${PEER_PREFIX}${peer.name}`,
  measure: (reps, warmup) => {
    const prepared = peerCase(peer)
    try {
      return timeCase(() => void prepared.run(), undefined, reps, warmup)
    } finally {
      prepared.dispose()
    }
  }
})

const crossoversOf = (rows: ReadonlyArray<KernelBenchRow>): Array<KernelBenchCrossover> => {
  const out: Array<KernelBenchCrossover> = []
  const keys = new Set(
    rows.filter((r) => r.backend !== "cpu" && !r.backend.startsWith(PEER_PREFIX)).map((r) =>
      `${r.family}\u0000${r.backend}`
    )
  )
  for (const key of keys) {
    const [family, backend] = key.split("\u0000") as [KernelFamily, string]
    const mine = rows.filter((r) => r.family === family && r.backend === backend).sort((a, b) =>
      a.sizeIndex - b.sizeIndex
    )
    let size: string | undefined
    for (let i = mine.length - 1; i >= 0; i--) {
      const s = mine[i].speedupVsCpu
      if (s === undefined || s <= 1) break
      size = mine[i].size
    }
    out.push({ family, backend, size })
  }
  return out
}

/** Runs the kernel benchmark; opens (and closes) every requested gpu.js mode. */
export const runKernelBench = (options: KernelBenchOptions = {}): Effect.Effect<KernelBenchResult> =>
  Effect.scoped(Effect.gen(function*() {
    const reps = options.reps ?? 5
    const warmup = options.warmup ?? 2
    const maxCallMs = options.maxCallMs ?? 4000
    const chosen = options.families ?? kernelFamilies
    const backends: Array<KernelBenchBackend> = []
    const opened: Array<{ readonly name: string; readonly g: GpujsKernels }> = []
    for (const mode of options.modes ?? gpujsModes) {
      const result = yield* Effect.result(makeGpujsKernels(mode))
      if (result._tag === "Failure") {
        backends.push({ requested: mode, backend: "none", reason: result.failure.message })
        continue
      }
      const g = result.success
      const name = `gpujs:${g.mode}`
      backends.push({ requested: mode, backend: name, reason: g.reason })
      if (!opened.some((o) => o.name === name)) opened.push({ name, g })
    }
    // Peers are loaded only when a family that has them runs (today: matmul).
    const peers: Array<TfjsPeer> = []
    if ((options.peers ?? true) && chosen.includes("matmul")) {
      const report = yield* Effect.promise(() => probeTfjsPeers())
      for (const p of report.peers) {
        backends.push({ requested: p.name, backend: `${PEER_PREFIX}${p.name}`, reason: p.detail })
        peers.push(p)
      }
      for (const u of report.unavailable) backends.push({ requested: u.name, backend: "none", reason: u.reason })
    }
    const rows: Array<KernelBenchRow> = []
    const emit = (row: KernelBenchRow) => {
      rows.push(row)
      options.onRow?.(row)
    }
    const buildersOf = (family: KernelFamily) =>
      options.scale === "quick" ? families[family].slice(0, 3) : families[family]
    const cases = chosen.reduce((n, family) => n + buildersOf(family).length, 0)
    let casesDone = 0
    for (const family of chosen) {
      const builders = buildersOf(family)
      const tooSlow = new Set<string>()
      for (let sizeIndex = 0; sizeIndex < builders.length; sizeIndex++) {
        const c = builders[sizeIndex]()
        options.onProgress?.({
          task: "bench kernels",
          done: casesDone,
          total: cases,
          unit: "items",
          detail: `${family} ${c.size}`
        })
        let cpuMs: number | undefined
        const peerCase = c.peer
        const contenders: Array<Contender> = [
          backendContender(c, "cpu", cpuKernels, undefined),
          ...opened.map((o) => backendContender(c, o.name, o.g.kernels, o.g)),
          ...(peerCase === undefined ? [] : peers.map((p) => peerContender(peerCase, p)))
        ]
        for (const { name, measure } of contenders) {
          const base = { family, size: c.size, sizeIndex, backend: name }
          if (tooSlow.has(name)) {
            emit({
              ...base,
              reps: 0,
              msPerCall: undefined,
              uploadMs: undefined,
              computeMs: undefined,
              readbackMs: undefined,
              traffic: undefined,
              gflops: undefined,
              gbps: undefined,
              speedupVsCpu: undefined,
              skipped: `a smaller size took over ${maxCallMs} ms per call`
            })
            continue
          }
          const timing = measure(reps, warmup)
          const ms = timing.total
          if (name === "cpu") cpuMs = ms
          if (ms > maxCallMs) tooSlow.add(name)
          emit({
            ...base,
            reps: timing.reps,
            msPerCall: ms,
            uploadMs: timing.upload,
            computeMs: timing.compute,
            readbackMs: timing.readback,
            traffic: timing.traffic,
            gflops: c.flops === undefined ? undefined : c.flops / ms / 1e6,
            gbps: c.bytes / ms / 1e6,
            speedupVsCpu: cpuMs === undefined ? undefined : cpuMs / ms,
            skipped: undefined
          })
        }
        releaseCaseTensors()
        casesDone += 1
      }
    }
    options.onProgress?.({ task: "bench kernels", done: casesDone, total: cases, unit: "items" })
    return { rows, crossovers: crossoversOf(rows), backends }
  }))

export const fmt = (x: number | undefined, digits = 2): string =>
  x === undefined ? "-" : x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(digits)

/** The result as plain-text tables: one row per (family, size, backend), then the crossovers. */
export const formatKernelBench = (result: KernelBenchResult): string => {
  const header = [
    "family",
    "size",
    "backend",
    "ms/call",
    "upload",
    "compute",
    "readback",
    "KB up",
    "KB down",
    "launches",
    "GFLOP/s",
    "GB/s",
    "vs cpu"
  ]
  const kilobytes = (bytes: number | undefined) => bytes === undefined ? "-" : fmt(bytes / 1e3, 1)
  const body = result.rows.map((r) =>
    r.skipped !== undefined
      ? [r.family, r.size, r.backend, "skipped", "", "", "", "", "", "", "", "", ""]
      : [
        r.family,
        r.size,
        r.backend,
        fmt(r.msPerCall, 3),
        fmt(r.uploadMs, 3),
        fmt(r.computeMs, 3),
        fmt(r.readbackMs, 3),
        kilobytes(r.traffic?.bytesUp),
        kilobytes(r.traffic?.bytesDown),
        r.traffic === undefined ? "-" : `${r.traffic.launches}`,
        fmt(r.gflops),
        fmt(r.gbps),
        r.speedupVsCpu === undefined || r.backend === "cpu" ? "" : `${fmt(r.speedupVsCpu)}×`
      ]
  )
  const table = (rows: ReadonlyArray<ReadonlyArray<string>>) => {
    const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)))
    return rows.map((r) => r.map((cell, i) => (i < 3 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join("  "))
      .join("\n")
  }
  const lines = [table([header, ...body]), ""]
  lines.push(
    `crossover (smallest size from which the mode beats cpu at every larger measured size; ${PEER_PREFIX}* rows are references, not part of it):`
  )
  lines.push(
    table([
      ["family", "backend", "crossover"],
      ...result.crossovers.map((c) => [c.family, c.backend, c.size ?? "never (in range)"])
    ])
  )
  lines.push("", "backends:")
  for (const b of result.backends) lines.push(`  ${b.requested} → ${b.backend}${b.reason ? ` (${b.reason})` : ""}`)
  return lines.join("\n")
}
