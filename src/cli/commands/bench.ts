import { Command, Flag } from "effect/cli"
import * as Option from "effect/Option"
import { kernelFamilies } from "../../bench/families.ts"
import { modelSizeNames } from "../../bench/sizes.ts"
import { gpujsModes } from "../../kernels/gpujs/modeNames.ts"
import { whenRun } from "../lazy.ts"

const loadHandlers = () => import("../handlers/bench.ts")

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

/** An integer flag of at least `min`. */
const countFlag = (name: string, description: string, min: number, fallback: number) =>
  Flag.Int(name).pipe(
    Flag.withDescription(description),
    Flag.filterMap((n) => n >= min ? Option.some(n) : Option.none(), (n) => `an integer ≥ ${min}, got ${n}`),
    Flag.withDefault(fallback)
  )

const sizeFlag = Flag.Literals("size", modelSizeNames).pipe(
  Flag.withDescription(
    "Model size: the reference model, a wider and deeper one (mid), mid-t128 (d128, 4 layers, T=128), " +
      "or large (d512, 8 layers, 8 heads, T=256)"
  ),
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
    whenRun(loadHandlers, (handlers) =>
      handlers.benchKernels({
        modes: Option.getOrUndefined(modes),
        families: Option.getOrUndefined(families),
        scale: quick ? "quick" : "full",
        json: Option.getOrUndefined(json)
      }))
).pipe(Command.withDescription("Every kernel family at growing sizes on cpu and the gpu.js modes"))

const matmul = Command.make(
  "matmul",
  {
    dtype: Flag.Literals("dtype", ["f32", "f64"] as const).pipe(
      Flag.withDescription("Operand type"),
      Flag.withDefault("f32")
    )
  },
  ({ dtype }) => whenRun(loadHandlers, (handlers) => handlers.benchMatmul(dtype))
).pipe(Command.withDescription("cpu matmul throughput, square and model-shaped products"))

const step = Command.make(
  "step",
  {
    steps: countFlag("steps", "Timed steps", 1, 30),
    warmup: countFlag("warmup", "Untimed steps first", 0, 5),
    cpuOnly: Flag.Boolean("cpu-only").pipe(
      Flag.withDescription("Skip the gpu.js modes (the same as --backend cpu)"),
      Flag.withDefault(false)
    ),
    backend: Flag.Literals("backend", ["all", "cpu", "gpujs"] as const).pipe(
      Flag.withDescription(
        "Which backends to time: cpu, gpujs (each mode of --modes that runs, with bytes up, bytes down " +
          "and launches per step; --steps and --warmup apply as given, where beside cpu a gpu.js mode " +
          "runs a fifth of the steps after one warm-up), or all"
      ),
      Flag.withDefault("all")
    ),
    modes: listFlag("modes", gpujsModes),
    skipPeers: Flag.Boolean("skip-peers").pipe(
      Flag.withDescription("Skip the same step in TensorFlow.js wasm and jax-js (run when installed)"),
      Flag.withDefault(false)
    ),
    size: sizeFlag,
    profile: Flag.Boolean("profile").pipe(
      Flag.withDescription(
        "On the cpu backend only: the time per kernel family and per layer, and outside the kernels"
      ),
      Flag.withDefault(false)
    ),
    json: Flag.String("json").pipe(Flag.withDescription("Also write the results to this JSON file"), Flag.optional)
  },
  ({ backend, cpuOnly, json, modes, ...args }) =>
    whenRun(loadHandlers, (handlers) =>
      args.profile
        ? handlers.benchStepProfile({
          size: args.size,
          steps: args.steps,
          warmup: args.warmup,
          json: Option.getOrUndefined(json)
        })
        : handlers.benchStep({
          ...args,
          backend: cpuOnly ? "cpu" : backend,
          modes: Option.getOrUndefined(modes),
          json: Option.getOrUndefined(json)
        }))
).pipe(Command.withDescription(
  "One full training step (forward, backward, clipping, AdamW) per backend; --profile: where its time goes on cpu"
))

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
  (options) => whenRun(loadHandlers, (handlers) => handlers.benchSave(options))
).pipe(Command.withDescription("What checkpointing costs the step loop: no, synchronous and background saves"))

/** `1,2,auto`: numbers of ranks, or auto. */
const ranksFlag = Flag.String("ranks").pipe(
  Flag.withDescription("Comma-separated numbers of ranks, or auto"),
  Flag.filterMap(
    (text) => {
      const items = text.split(",").map((s) => s.trim())
      return items.every((s) => s === "auto" || /^[1-9]\d*$/.test(s))
        ? Option.some(items.map((s) => (s === "auto" ? "auto" as const : Number(s))))
        : Option.none()
    },
    (text) => `a comma-separated list of positive integers or auto, got ${text}`
  ),
  Flag.withDefault<ReadonlyArray<number | "auto">>([1, 2, "auto"])
)

const ranks = Command.make(
  "ranks",
  {
    size: sizeFlag,
    ranks: ranksFlag,
    steps: countFlag("steps", "Timed steps", 1, 20),
    warmup: countFlag("warmup", "Untimed steps first", 0, 3)
  },
  (options) => whenRun(() => import("../handlers/benchRanks.ts"), (handler) => handler.benchRanks(options))
).pipe(Command.withDescription(
  "The same update on the single thread and on P worker-thread ranks: speed-up, protocol cost, slot memory"
))

const cli = Command.make(
  "cli",
  {
    runs: countFlag("runs", "Timed runs per command", 1, 10),
    warmup: countFlag("warmup", "Untimed runs per command first", 0, 2),
    checkpoint: Flag.String("checkpoint").pipe(
      Flag.withDescription("Checkpoint directory for inspect --verify (default: written by train --until 1)"),
      Flag.optional
    ),
    sources: Flag.Boolean("sources").pipe(
      Flag.withDescription("Time the TypeScript sources through tsx instead of the build"),
      Flag.withDefault(false)
    )
  },
  ({ checkpoint, runs, sources, warmup }) =>
    whenRun(
      () => import("../handlers/benchCli.ts"),
      (handler) => handler.benchCli({ runs, warmup, sources, checkpoint: Option.getOrUndefined(checkpoint) })
    )
).pipe(
  Command.withDescription(
    "Start-up of the CLI: --version and inspect --verify as fresh processes (mean ± sd, min)"
  )
)

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
  (args) => whenRun(loadHandlers, (handlers) => handlers.benchAll(args))
).pipe(
  Command.withDescription("Benchmark kernels and a full step on cpu and every available gpu.js mode"),
  Command.withSubcommands([kernels, matmul, step, save, ranks, cli])
)
