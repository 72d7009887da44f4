import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { composedRun } from "../../examples/compose.ts"
import { lr, resolveSchedule } from "../../src/optim/schedule.ts"
import { tempDir } from "../support/tinyRun.ts"

describe("examples/compose.ts", () => {
  it.effect("trains on the swapped data with the swapped schedule and stops when the stream stops", () =>
    Effect.gen(function*() {
      const text = fs.readFileSync(path.join(import.meta.dirname, "../../LICENSE"))
      const steps = yield* composedRun(tempDir(), text, 25)
      assert.strictEqual(steps.length, 25)
      assert.deepStrictEqual(steps.map((s) => s.step), Array.from({ length: 25 }, (_, i) => i + 1))
      const schedule = resolveSchedule(
        { kind: "wsd", warmupSteps: 20, decayRatio: 0.5, decayShape: "cosine", minLrFactor: 0.05 },
        3e-3,
        300
      )
      for (const s of steps) assert.strictEqual(s.lr, lr(schedule, s.step - 1))
      assert.isBelow(steps[24]!.loss, steps[0]!.loss)
    }))
})
