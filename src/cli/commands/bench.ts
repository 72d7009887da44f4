import { Console, Effect, Option } from "effect"
import { Command, Flag } from "effect/cli"
import * as fs from "node:fs"
import * as path from "node:path"
import { formatKernelBench, type KernelBenchRow, kernelFamilies, runKernelBench } from "../../bench/kernels.ts"
import { runMatmulBench } from "../../bench/matmul.ts"
import { runSaveBench, SaveModesDiverged } from "../../bench/save.ts"
import { modelSizeNames } from "../../bench/sizes.ts"
import { benchModel, referenceBatch, runStepBench, type StepTiming } from "../../bench/step.ts"
import { gpujsModes } from "../../kernels/gpujs/index.ts"
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

const formatSteps = (rows: ReadonlyArray<StepTiming>): string =>
  [
    "end-to-end step of the reference model (forward + backward + clip + AdamW, B=16, T=64):",
    ...rows.map((r) =>
      `  ${r.backend.padEnd(18)} ${r.msPerStep.toFixed(1).padStart(9)} ms/step ${
        Math.round(r.tokensPerSec).toString().padStart(8)
      } tokens/s  (${r.steps} steps)`
    )
  ].join("\n")

/** A comma-separated flag whose items must be among `known`. */
const listFlag = <A extends string>(name: string, known: ReadonlyArray<A>) => {
  const isKnown = (s: string): s is A => (known as ReadonlyArray<string>).includes(s)
  return Flag.String(name).pipe(
    Flag.withDescription(`Comma-separated, from: ${known.join(", ")}`),
    Flag.filterMap(
      (value) => {
        const items = value.split(",").filter((s) => s.length > 0)
        return items.every(isKnown) ? Option.some(items) : Option.none()
      },
      () => `a comma-separated list of ${known.join(", ")}`
    ),
    Flag.optional
  )
}

const sizeFlag = Flag.Literals("size", modelSizeNames).pipe(
  Flag.withDescription("Model size: the reference model, or a wider and deeper one"),
  Flag.withDefault("default")
)

const kernels = Command.make(
  "kernels",
  {
    quick: Flag.Boolean("quick").pipe(Flag.withDescription("Small sizes only"), Flag.withDefault(false)),
    modes: listFlag("modes", gpujsModes),
    families: listFlag("families", kernelFamilies),
    json: Flag.String("json").pipe(Flag.withDescription("Also write the results to this JSON file"), Flag.optional)
  },
  ({ families, json, modes, quick }) =>
    Effect.gen(function*() {
      const result = yield* withProgress((progress) =>
        runKernelBench({
          modes: Option.getOrUndefined(modes),
          families: Option.getOrUndefined(families),
          scale: quick ? "quick" : "full",
          onRow: (row) => progress.log(rowLine(row)),
          onProgress: progress.report
        })
      )
      yield* Console.log(formatKernelBench(result))
      if (Option.isSome(json)) fs.writeFileSync(json.value, JSON.stringify(result, null, 2))
    })
).pipe(Command.withDescription("Every kernel family at growing sizes on cpu and the gpu.js modes"))

const matmul = Command.make(
  "matmul",
  {
    dtype: Flag.Literals("dtype", ["f32", "f64"] as const).pipe(
      Flag.withDescription("Operand type"),
      Flag.withDefault("f32")
    )
  },
  ({ dtype }) =>
    Effect.gen(function*() {
      const { caption, rows } = runMatmulBench(dtype)
      yield* Console.log(caption)
      yield* Console.table(rows)
    })
).pipe(Command.withDescription("cpu matmul throughput, square and model-shaped products"))

const step = Command.make(
  "step",
  {
    steps: Flag.Int("steps").pipe(Flag.withDescription("Timed steps"), Flag.withDefault(30)),
    warmup: Flag.Int("warmup").pipe(Flag.withDescription("Untimed steps first"), Flag.withDefault(5)),
    cpuOnly: Flag.Boolean("cpu-only").pipe(Flag.withDescription("Skip the gpu.js modes"), Flag.withDefault(false)),
    size: sizeFlag
  },
  ({ cpuOnly, size, steps, warmup }) =>
    Effect.gen(function*() {
      const rows = yield* withProgress((progress) =>
        runStepBench({
          modes: cpuOnly ? [] : ["headlessgl", "webasm", "cpu"],
          steps,
          warmup,
          size,
          onProgress: progress.report
        })
      )
      const m = benchModel(size)
      yield* Console.log(
        `${size} llama (V=${m.vocabSize}, d=${m.dim}, ${m.layers} layers, ${m.heads} heads, f=${m.ffnDim}, ` +
          `T=${m.seqLen}, B=${referenceBatch}), ${referenceBatch * m.seqLen} tokens/step`
      )
      yield* Console.table(Object.fromEntries(rows.map((r) => [r.backend, {
        "ms/step": +r.msPerStep.toFixed(1),
        "fwd+bwd ms": +r.msForwardBackward.toFixed(1),
        "clip+AdamW ms": +r.msClipAndUpdate.toFixed(2),
        "tokens/s": Math.round(r.tokensPerSec),
        steps: r.steps
      }])))
    })
).pipe(Command.withDescription("One full training step (forward, backward, clipping, AdamW) per backend"))

const save = Command.make(
  "save",
  {
    size: sizeFlag,
    steps: Flag.Int("steps").pipe(Flag.withDescription("Steps per run"), Flag.withDefault(40)),
    every: Flag.Int("every").pipe(Flag.withDescription("Steps between checkpoints"), Flag.withDefault(5)),
    rounds: Flag.Int("rounds").pipe(
      Flag.withDescription("Runs per mode, interleaved; the fastest of each is kept"),
      Flag.withDefault(1)
    )
  },
  (options) =>
    Effect.gen(function*() {
      const report = yield* withProgress((progress) => runSaveBench({ ...options, onProgress: progress.report }))
      yield* Console.log(report.caption)
      yield* Console.table(report.table)
      yield* Console.log(report.landed)
      yield* Console.log(
        `final weights and optimizer state bit-identical across modes: ${report.identical ? "yes" : "NO"}`
      )
      if (!report.identical) return yield* new SaveModesDiverged()
    })
).pipe(Command.withDescription("What checkpointing costs the step loop: no, synchronous and background saves"))

/**
 * `continuum bench`: kernels on cpu and every gpu.js mode that runs here, plus a full step per
 * backend; its subcommands run one benchmark each.
 */
export const benchCommand = Command.make(
  "bench",
  {
    quick: Flag.Boolean("quick").pipe(Flag.withDescription("Small sizes only"), Flag.withDefault(false)),
    out: Flag.String("out").pipe(Flag.withDescription("Directory for bench.json"), Flag.withDefault("runs/bench"))
  },
  ({ out, quick }) =>
    Effect.gen(function*() {
      yield* Console.error(
        "kernels: median of repeated calls after warm-up; gpujs split into upload / compute / readback"
      )
      const kernels = yield* withProgress((progress) =>
        runKernelBench({
          scale: quick ? "quick" : "full",
          onRow: (row) => progress.log(rowLine(row)),
          onProgress: progress.report
        })
      )
      yield* Console.log(formatKernelBench(kernels))
      const steps = yield* withProgress((progress) =>
        runStepBench({
          modes: gpujsModes.filter((m) => m !== "gpu"),
          steps: quick ? 5 : 20,
          warmup: 2,
          onProgress: progress.report
        })
      )
      yield* Console.log(formatSteps(steps))
      fs.mkdirSync(out, { recursive: true })
      const file = path.join(out, "bench.json")
      fs.writeFileSync(file, JSON.stringify({ kernels, steps }, null, 2))
      yield* Console.log(`results: ${file}`)
    })
).pipe(
  Command.withDescription("Benchmark kernels and a full step on cpu and every available gpu.js mode"),
  Command.withSubcommands([kernels, matmul, step, save])
)
