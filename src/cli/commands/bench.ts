import * as fs from "node:fs"
import * as path from "node:path"
import { Console, Effect } from "effect"
import { Command, Flag } from "effect/cli"
import { formatKernelBench, runKernelBench } from "../../bench/kernels.ts"
import { runStepBench } from "../../bench/step.ts"
import { gpujsModes } from "../../kernels/gpujs/index.ts"

const formatSteps = (rows: ReadonlyArray<{ backend: string; msPerStep: number; tokensPerSec: number; steps: number }>): string =>
  [
    "end-to-end step of the reference model (forward + backward + clip + AdamW, B=16, T=64):",
    ...rows.map((r) => `  ${r.backend.padEnd(18)} ${r.msPerStep.toFixed(1).padStart(9)} ms/step ${Math.round(r.tokensPerSec).toString().padStart(8)} tokens/s  (${r.steps} steps)`)
  ].join("\n")

/** `continuum bench`: kernels on cpu and every gpu.js mode that runs here, plus a full step per backend. */
export const benchCommand = Command.make(
  "bench",
  {
    quick: Flag.Boolean("quick").pipe(Flag.withDescription("Small sizes only"), Flag.withDefault(false)),
    out: Flag.String("out").pipe(Flag.withDescription("Directory for bench.json"), Flag.withDefault("runs/bench"))
  },
  ({ quick, out }) =>
    Effect.gen(function*() {
      yield* Console.error("kernels: median of repeated calls after warm-up; gpujs split into upload / compute / readback")
      const kernels = yield* runKernelBench({
        scale: quick ? "quick" : "full",
        onRow: (r) => process.stderr.write(`  ${r.family} ${r.size} ${r.backend}: ${r.skipped ?? `${(r.msPerCall ?? 0).toFixed(3)} ms`}\n`)
      })
      yield* Console.log(formatKernelBench(kernels))
      const steps = yield* runStepBench({ modes: gpujsModes.filter((m) => m !== "gpu"), steps: quick ? 5 : 20, warmup: 2 })
      yield* Console.log(formatSteps(steps))
      fs.mkdirSync(out, { recursive: true })
      const file = path.join(out, "bench.json")
      fs.writeFileSync(file, JSON.stringify({ kernels, steps }, null, 2))
      yield* Console.log(`results: ${file}`)
    })
).pipe(Command.withDescription("Benchmark kernels and a full step on cpu and every available gpu.js mode"))
