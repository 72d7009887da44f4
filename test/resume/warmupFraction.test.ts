/**
 * A warm-up given as a fraction of the run resolves to an integer once per configuration, and that
 * integer is what a resume compares and what the checkpoint's schedule holds. Doubling `steps`
 * under `continue` while the warm-up is in progress must not stretch it: the plan shows the new
 * resolution and says the warm-up in progress keeps its steps, and the resumed run's LR reaches the
 * peak at the old warm-up's end. Real CLI processes on a tiny model.
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

const PEAK = 0.003

describe("a warm-up fraction under continue with more steps", () => {
  it("keeps the warm-up in progress at its resolved steps; the plan shows both numbers", () => {
    const dir = tempDir()
    const runDir = path.join(dir, "run")
    const file = path.join(dir, "config.json")
    // The default schedule: warmupRatio 1/12, so W = 4 at 48 steps and W' = 8 at 96.
    fs.writeFileSync(
      file,
      JSON.stringify({
        runDir,
        seed: 7,
        steps: 48,
        model: { kind: "llama", dim: 16, layers: 1, heads: 2, ffnDim: 32, seqLen: 16 },
        batch: { global: 4, micro: 2 },
        eval: { every: 0, batches: 1 },
        checkpoint: { every: 2, keepLatest: 10, async: false }
      })
    )
    const first = cli(["train", "--config", file, "--until", "2"])
    assert.strictEqual(first.status, 0, first.stderr)
    assert.deepStrictEqual(stepLines(runDir).map((s) => s.lr), [PEAK / 4, PEAK * 2 / 4])

    const plan = cli(["plan", "--config", file, "--resume", "continue", "--set", "steps=96"])
    assert.strictEqual(plan.status, 0, plan.stderr)
    assert.match(plan.stdout, /schedule\.warmupSteps\s+4 → 8\s+\[trajectory\]/)
    assert.include(
      plan.stdout,
      "the warm-up in progress keeps its 4 steps; the new configuration resolves schedule.warmupSteps to 8 at 96 steps"
    )

    const resumed = cli(["train", "--config", file, "--resume", "continue", "--set", "steps=96"])
    assert.strictEqual(resumed.status, 0, resumed.stderr)
    const lrs = new Map(stepLines(runDir).map((s) => [s.step, s.lr]))
    // Update s uses lr(s − 1): the 4-step ramp goes on to the peak at update 4, then holds.
    assert.closeTo(lrs.get(3)!, PEAK * 3 / 4, 1e-15)
    assert.strictEqual(lrs.get(4), PEAK)
    for (let s = 5; s <= 96 - Math.round(0.2 * 96); s++) assert.strictEqual(lrs.get(s), PEAK, `step ${s}`)

    // The checkpoint holds the schedule that ran (a 4-step ramp) and the resolved configuration (W' = 8).
    const manifest = JSON.parse(
      fs.readFileSync(path.join(runDir, "checkpoints", "step-00000096", "manifest.json"), "utf8")
    ) as { state: { schedule: { _tag: string; configured: { warmupSteps: number } } } }
    const schedule = manifest.state.schedule
    assert.strictEqual(schedule._tag, "spliced")
    assert.strictEqual(schedule.configured.warmupSteps, 8)
  })

  it("exact with the same fraction and more steps is refused naming the resolved warm-up", () => {
    const dir = tempDir()
    const runDir = path.join(dir, "run")
    const first = cli([
      "train",
      "--set",
      `runDir=${runDir}`,
      "--set",
      "steps=24",
      "--set",
      "model.dim=16",
      "--set",
      "model.layers=1",
      "--set",
      "model.heads=2",
      "--set",
      "eval.every=0",
      "--set",
      "eval.batches=1",
      "--set",
      "checkpoint.every=2",
      "--until",
      "2"
    ])
    assert.strictEqual(first.status, 0, first.stderr)
    const plan = cli([
      "plan",
      "--set",
      `runDir=${runDir}`,
      "--set",
      "steps=48",
      "--set",
      "model.dim=16",
      "--set",
      "model.layers=1",
      "--set",
      "model.heads=2",
      "--resume",
      "exact"
    ])
    assert.strictEqual(plan.status, 2, plan.stderr)
    // The fraction did not change; the steps it resolves to did, and that is what is compared.
    assert.include(plan.stderr, "steps 24 → 48 and schedule.warmupSteps 2 → 4 change the trajectory")
    assert.include(
      plan.stderr,
      "the configured schedule changed (totalSteps 24 → 48, warmupSteps 2 → 4, decaySteps 5 → 10)"
    )
  })
})
