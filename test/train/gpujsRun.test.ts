import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as path from "node:path"
import { makeGpujsKernels } from "../../src/kernels/gpujs/index.ts"
import { checkExactResume } from "../../src/testkit/index.ts"
import { kitConfig } from "../support/testkitSetup.ts"
import { stepEvents, tempDir, tinyConfig, trainRun } from "../support/tinyRun.ts"

// Whether headless GL really runs here (gl built, a display available); otherwise skip, saying why.
const probe = await Effect.runPromise(Effect.scoped(
  makeGpujsKernels("headlessgl").pipe(
    Effect.map((g) => ({ mode: g.mode as string, reason: g.reason })),
    Effect.orElseSucceed(() => ({ mode: "unavailable", reason: "gpu.js could not start" as string | undefined }))
  )
))
const headless = probe.mode === "headlessgl"
if (!headless) console.warn(`gpujs training test SKIPPED: headlessgl unavailable (${probe.reason ?? probe.mode})`)

describe.skipIf(!headless)("training on the gpujs backend (headlessgl)", () => {
  // float32 on the GPU sums in a different order than the cpu backend, so the two trajectories
  // drift apart slowly; over 100 steps they must stay within this absolute loss difference.
  const tolerance = 0.05

  it.effect("tracks the cpu run's loss over 100 steps", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const common = { steps: 100, eval: { every: 0 }, checkpoint: { every: 0 } }
      const cpu = yield* trainRun(yield* tinyConfig(path.join(dir, "cpu"), common))
      const gpu = yield* trainRun(
        yield* tinyConfig(path.join(dir, "gpu"), { ...common, kernels: { backend: "gpujs", mode: "headlessgl" } })
      )
      const a = stepEvents(cpu.events).map((e) => e.loss)
      const b = stepEvents(gpu.events).map((e) => e.loss)
      assert.strictEqual(b.length, 100)
      let worst = 0
      for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!))
      assert.isBelow(worst, tolerance, `max |Δloss| over 100 steps = ${worst}`)
      assert.isBelow(b[99]!, b[0]! - 1, "the gpujs run learns")
    }), 300_000)

  // The tensors stay on the device between steps; a checkpoint reads them back once when it saves,
  // and a resume puts them back: the resumed run must continue exactly where the first stopped.
  it.effect("an exact resume on gpujs is bit-identical to the uninterrupted gpujs run", () =>
    Effect.gen(function*() {
      const config = yield* kitConfig({ kernels: { backend: "gpujs", mode: "headlessgl" } })
      const report = yield* checkExactResume({ config, stopAt: [3, 7] })
      assert.deepStrictEqual(report.stopPoints.map((s) => s.stopAt), [3, 7])
      for (const s of report.stopPoints) assert.strictEqual(s.tensorsCompared, 36)
    }), 300_000)
})
