import { Console, Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { checkJsonTarget } from "../../bench/jsonTarget.ts"
import { formatKernelBench, type KernelBenchOptions, type KernelBenchRow, runKernelBench } from "../../bench/kernels.ts"
import { runMatmulBench } from "../../bench/matmul.ts"
import { runSaveBench, type SaveBenchOptions, SaveModesDiverged } from "../../bench/save.ts"
import type { ModelSize } from "../../bench/sizes.ts"
import { benchModel, referenceBatch, runStepBench, type StepTiming } from "../../bench/step.ts"
import { runStepPeers } from "../../bench/stepPeers.ts"
import { formatStepProfile, runStepProfile } from "../../bench/stepProfile.ts"
import { type GpujsMode, gpujsModes, type Traffic } from "../../kernels/gpujs/index.ts"
import { makeTaskProgress, type TaskProgress } from "../progress.ts"

/** A measured kernel row, as a line that stays above the progress line. */
const rowLine = (r: KernelBenchRow): string =>
  `  ${r.family} ${r.size} ${r.backend}: ${r.skipped ?? `${(r.msPerCall ?? 0).toFixed(3)} ms`}`

/** Progress on stderr for the duration of `effect`: a redrawn line on a terminal, plain lines elsewhere. */
const withProgress = <A, E, R>(use: (progress: TaskProgress) => Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.suspend(() => {
    const progress = makeTaskProgress()
    return use(progress).pipe(Effect.ensuring(Effect.sync(progress.finish)))
  })

// Kilobytes: a step that keeps its tensors on the device moves a few KB, one that does not tens of MB.
const kilobytes = (bytes: number): number => +(bytes / 1e3).toFixed(2)

const formatSteps = (rows: ReadonlyArray<StepTiming>): string =>
  [
    "end-to-end step of the reference model (forward + backward + clip + AdamW, B=16, T=64):",
    ...rows.map((r) =>
      `  ${r.backend.padEnd(18)} ${r.msPerStep.toFixed(1).padStart(9)} ms/step ${
        Math.round(r.tokensPerSec).toString().padStart(8)
      } tokens/s  (${r.steps} steps)${
        r.trafficPerStep === undefined
          ? ""
          : `  ${kilobytes(r.trafficPerStep.bytesUp)} KB up, ${
            kilobytes(r.trafficPerStep.bytesDown)
          } KB down, ${r.trafficPerStep.launches} launches per step`
      }`
    )
  ].join("\n")

/** `continuum bench`: kernels on cpu and every gpu.js mode, then a full step per backend, into bench.json. */
export const benchAll = (args: { readonly out: string; readonly quick: boolean }) =>
  Effect.gen(function*() {
    yield* Console.error(
      "kernels: median of repeated calls after warm-up; gpujs split into upload / compute / readback"
    )
    const kernels = yield* withProgress((progress) =>
      runKernelBench({
        scale: args.quick ? "quick" : "full",
        onRow: (row) => progress.log(rowLine(row)),
        onProgress: progress.report
      })
    )
    yield* Console.log(formatKernelBench(kernels))
    const steps = yield* withProgress((progress) =>
      runStepBench({
        modes: gpujsModes.filter((m) => m !== "gpu"),
        steps: args.quick ? 5 : 20,
        warmup: 2,
        onProgress: progress.report
      })
    )
    yield* Console.log(formatSteps(steps))
    fs.mkdirSync(args.out, { recursive: true })
    const file = path.join(args.out, "bench.json")
    fs.writeFileSync(file, JSON.stringify({ kernels, steps }, null, 2))
    yield* Console.log(`results: ${file}`)
  })

/** `continuum bench kernels`. */
export const benchKernels = (
  args: Pick<KernelBenchOptions, "modes" | "families" | "scale"> & { readonly json: string | undefined }
) =>
  Effect.gen(function*() {
    const result = yield* withProgress((progress) =>
      runKernelBench({
        modes: args.modes,
        families: args.families,
        scale: args.scale,
        onRow: (row) => progress.log(rowLine(row)),
        onProgress: progress.report
      })
    )
    yield* Console.log(formatKernelBench(result))
    if (args.json !== undefined) fs.writeFileSync(args.json, JSON.stringify(result, null, 2))
  })

/** `continuum bench matmul`. */
export const benchMatmul = (dtype: "f32" | "f64") =>
  Effect.gen(function*() {
    const { caption, rows } = runMatmulBench(dtype)
    yield* Console.log(caption)
    yield* Console.table(rows)
  })

/** Timed steps of each peer at most: they run 5–20× slower than continuum's step. */
const PEER_STEPS = 10

/** Which backends `bench step` times: cpu, gpujs (the modes asked for), or both. */
export type StepBackends = "all" | "cpu" | "gpujs"

/** The gpu.js modes `bench step` times unless told otherwise. */
export const defaultStepModes: ReadonlyArray<GpujsMode> = ["headlessgl", "webasm", "cpu"]

/** A step's traffic as table cells; left blank for the cpu backend, which has no device to cross to. */
const trafficCells = (t: Traffic | undefined) =>
  t === undefined ? {} : { "KB up": kilobytes(t.bytesUp), "KB down": kilobytes(t.bytesDown), launches: t.launches }

/** `continuum bench step`. */
export const benchStep = (
  args: {
    readonly backend: StepBackends
    readonly modes: ReadonlyArray<GpujsMode> | undefined
    readonly skipPeers: boolean
    readonly size: ModelSize
    readonly steps: number
    readonly warmup: number
    readonly json: string | undefined
  }
) =>
  Effect.gen(function*() {
    const { backend, json, size, skipPeers, steps, warmup } = args
    yield* checkJsonTarget(json)
    const m = benchModel(size)
    const rows = yield* withProgress((progress) =>
      runStepBench({
        cpu: backend !== "gpujs",
        modes: backend === "cpu" ? [] : args.modes ?? defaultStepModes,
        // Timing gpu.js alone, the counts asked for are its own; beside cpu it runs fewer steps.
        ...(backend === "gpujs" ? { gpujsSteps: steps, gpujsWarmup: warmup } : {}),
        steps,
        warmup,
        size,
        onProgress: progress.report
      })
    )
    const peers = skipPeers ? undefined : yield* withProgress((progress) =>
      Effect.promise(() =>
        runStepPeers({
          config: m,
          batch: referenceBatch,
          steps: Math.min(steps, PEER_STEPS),
          // jax-js compiles on its first call: at least one untimed step
          warmup: Math.max(warmup, 1),
          onProgress: progress.report
        })
      )
    )
    yield* Console.log(
      `${size} llama (V=${m.vocabSize}, d=${m.dim}, ${m.layers} layers, ${m.heads} heads, f=${m.ffnDim}, ` +
        `T=${m.seqLen}, B=${referenceBatch}), ${referenceBatch * m.seqLen} tokens/step`
    )
    yield* Console.table(Object.fromEntries(rows.map((r) => [r.backend, {
      "ms/step": +r.msPerStep.toFixed(1),
      "fwd+bwd ms": +r.msForwardBackward.toFixed(1),
      "clip+AdamW ms": +r.msClipAndUpdate.toFixed(2),
      "tokens/s": Math.round(r.tokensPerSec),
      steps: r.steps,
      ...trafficCells(r.trafficPerStep)
    }])))
    if (peers !== undefined) {
      yield* Console.log(
        "the same step in other libraries (same model, batch, initial weights and AdamW; their first two losses " +
          "agree with continuum's to rounding); each peer step alternates with a continuum cpu step, " +
          "\"× continuum\" = the ratio of the two medians:"
      )
      if (peers.rows.length > 0) {
        yield* Console.table(Object.fromEntries(peers.rows.map((r) => [r.peer, {
          "ms/step": +r.msPerStep.toFixed(1),
          "continuum ms/step": +r.msContinuum.toFixed(1),
          "× continuum": +(r.msPerStep / r.msContinuum).toFixed(2),
          "first step ms": Math.round(r.msFirstStep),
          "loss 1, 2": `${r.firstLoss.toFixed(4)}, ${r.secondLoss.toFixed(4)}`,
          steps: r.steps,
          runs: r.detail
        }])))
      }
      for (const u of peers.unavailable) yield* Console.log(`  ${u.peer}: skipped, ${u.reason}`)
    }
    if (json !== undefined) {
      fs.writeFileSync(json, JSON.stringify({ model: m, batch: referenceBatch, rows, peers }, null, 2))
    }
  })

/** `continuum bench step --profile`: the step on the cpu backend, per kernel family and per layer. */
export const benchStepProfile = (
  args: { readonly size: ModelSize; readonly steps: number; readonly warmup: number; readonly json: string | undefined }
) =>
  Effect.gen(function*() {
    yield* checkJsonTarget(args.json)
    yield* Console.error(
      `profiling the ${args.size} model: ${args.warmup} warm-up and ${args.steps} timed steps, twice`
    )
    const profile = runStepProfile({ model: benchModel(args.size), steps: args.steps, warmup: args.warmup })
    yield* Console.log(formatStepProfile(profile))
    if (args.json !== undefined) fs.writeFileSync(args.json, JSON.stringify(profile, null, 2))
  })

/** `continuum bench save`. */
export const benchSave = (options: SaveBenchOptions) =>
  Effect.gen(function*() {
    const report = yield* withProgress((progress) => runSaveBench({ ...options, onProgress: progress.report }))
    yield* Console.log(report.caption)
    yield* Console.table(report.table)
    yield* Console.log(report.landed)
    if (report.skipped !== undefined) yield* Console.log(report.skipped)
    yield* Console.log(
      `final weights and optimizer state bit-identical across modes: ${report.identical ? "yes" : "NO"}`
    )
    if (!report.identical) return yield* new SaveModesDiverged()
  })
