/**
 * The overrides a user tries first each give a valid run on their own: `steps`, `batch.global`,
 * `model.dim`, `data.source`. Real CLI processes. Each single override is checked by `plan` (the
 * whole configuration decoded and its run built, nothing trained); it is then trained to
 * completion with `steps=20` added where the override is not `steps` itself, so the test stays
 * short (the full 600 steps of the reference model would take minutes here), and evaluates on 2
 * batches instead of 20.
 */
import { assert, describe, it } from "@effect/vitest"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { stepLines } from "../support/metrics.ts"
import { repoRoot } from "../support/processes.ts"
import { tempDir } from "../support/tinyRun.ts"

const cli = (args: ReadonlyArray<string>) => {
  const result = spawnSync(process.execPath, [path.join(repoRoot, "bin", "continuum"), ...args], { encoding: "utf8" })
  return { status: result.status, stdout: result.stdout, stderr: result.stderr }
}

/** A small text corpus of its own, for `data.source`. */
const textFile = (dir: string): string => {
  const file = path.join(dir, "corpus.txt")
  fs.writeFileSync(file, "It was the best of times, it was the worst of times, it was the age of wisdom. ".repeat(400))
  return file
}

describe("one override of the reference configuration is a valid run", () => {
  it("train --set steps=20 runs to completion with the default warm-up (1/12 of the run: 2 steps)", () => {
    const runDir = path.join(tempDir(), "steps")
    const result = cli(["train", "--set", `runDir=${runDir}`, "--set", "steps=20"])
    assert.strictEqual(result.status, 0, result.stderr)
    const steps = stepLines(runDir)
    assert.deepStrictEqual(steps.map((s) => s.step), Array.from({ length: 20 }, (_, i) => i + 1))
    // Warm-up W = round(20/12) = 2: update 1 uses lr(0) = η/2, update 2 the peak.
    assert.strictEqual(steps[0]!.lr, 0.003 / 2)
    assert.strictEqual(steps[1]!.lr, 0.003)
  })

  for (const override of ["batch.global=4", "model.dim=32", "data.source"]) {
    it(`${override}: plan accepts it alone; train with it and steps=20 runs to completion`, () => {
      const dir = tempDir()
      const set = override === "data.source" ? `data.source=${textFile(dir)}` : override
      const runDir = path.join(dir, "run")
      const plan = cli(["plan", "--set", `runDir=${runDir}`, "--set", set])
      assert.strictEqual(plan.status, 0, plan.stderr)
      assert.include(plan.stdout, "fresh start: 600 steps from step 0")
      const train = cli([
        "train",
        "--set",
        `runDir=${runDir}`,
        "--set",
        set,
        "--set",
        "steps=20",
        "--set",
        "eval.batches=2"
      ])
      assert.strictEqual(train.status, 0, train.stderr)
      assert.include(train.stdout, "trained to step 20")
      assert.strictEqual(stepLines(runDir).length, 20)
    })
  }
})
