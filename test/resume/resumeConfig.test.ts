/**
 * A resume starts from the checkpoint's own configuration, with real `bin/continuum` processes: a
 * run started from a config file plus `--set` overrides resumes with `--resume exact` or `auto` and
 * only `--set runDir=…` (how the run is found), and ends like the uninterrupted run; `continue`
 * needs only the one change it makes; `plan` lists the changes stated on top of the checkpoint's
 * configuration before the actions.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { checkpointsDir, stepDirName } from "../../src/checkpoint/layout.ts"
import { stepLines, trajectory } from "../support/metrics.ts"
import { runCli } from "../support/processes.ts"
import { tempDir, tinyConfig, trainRun, writeTinyConfig } from "../support/tinyRun.ts"

/** Stated only on the command line of the first session: a resume must find them in the checkpoint. */
const overrides = ["--set", "seed=3", "--set", "optimizer.lr=0.002", "--set", "batch.global=8"]

/** The first session: a config file plus `overrides`, interrupted at step 8; the file is then removed. */
const interruptedRun = async (): Promise<{ dir: string; runDir: string }> => {
  const dir = tempDir("continuum-resume-config-")
  const runDir = path.join(dir, "run")
  const config = writeTinyConfig(path.join(dir, "config.json"), runDir)
  const first = await runCli(["train", "--config", config, ...overrides, "--until", "8"])
  assert.strictEqual(first.code, 0, first.stderr)
  fs.rmSync(config)
  return { dir, runDir }
}

/** The trajectory of the same configuration trained in one go, computed once for the file. */
let reference: Promise<ReturnType<typeof trajectory>> | undefined
const uninterruptedTrajectory = () =>
  reference ??= (async () => {
    const referenceDir = path.join(tempDir("continuum-resume-config-reference-"), "run")
    await Effect.runPromise(Effect.flatMap(
      tinyConfig(referenceDir, { seed: 3, optimizer: { lr: 0.002 }, batch: { global: 8 } }),
      (c) => trainRun(c)
    ))
    return trajectory(referenceDir)
  })()

describe("resume from the checkpoint's own configuration", () => {
  it("train --resume exact with only --set runDir continues a run started from a file and overrides", async () => {
    const { runDir } = await interruptedRun()

    const plan = await runCli(["plan", "--resume", "continue", "--set", `runDir=${runDir}`, "--set", "steps=16"])
    assert.strictEqual(plan.code, 0, plan.stderr)
    assert.include(
      plan.stdout,
      `configuration: the checkpoint's own (${path.join(checkpointsDir(runDir), stepDirName(8))})`
    )
    const changes = plan.stdout.indexOf("changed fields")
    assert.isAbove(changes, -1, plan.stdout)
    assert.match(plan.stdout, /\n {2}steps +12 → 16 +\[trajectory\]\n\n/)
    assert.isBelow(plan.stdout.indexOf("steps  12 → 16"), plan.stdout.indexOf("model      load"))
    // Nothing else differs from the checkpoint: seed, LR and batch came from it.
    assert.notInclude(plan.stdout, "seed")
    assert.notInclude(plan.stdout, "batch.global")

    const resumed = await runCli(["train", "--resume", "exact", "--set", `runDir=${runDir}`])
    assert.strictEqual(resumed.code, 0, `${resumed.stdout}${resumed.stderr}`)
    assert.include(resumed.stdout, "trained to step 12")

    assert.deepStrictEqual(trajectory(runDir), await uninterruptedTrajectory())
  }, 120_000)

  it("train --resume auto with only --set runDir continues it too, then finds it complete", async () => {
    const { runDir } = await interruptedRun()
    const resumed = await runCli(["train", "--resume", "auto", "--set", `runDir=${runDir}`])
    assert.strictEqual(resumed.code, 0, `${resumed.stdout}${resumed.stderr}`)
    assert.include(resumed.stdout, "trained to step 12")
    assert.include(resumed.stderr, "policy exact")
    assert.deepStrictEqual(trajectory(runDir), await uninterruptedTrajectory())

    // The total (12) came from the checkpoint too: nothing is left to run, and both commands say so.
    for (const command of ["train", "plan"]) {
      const again = await runCli([command, "--resume", "auto", "--set", `runDir=${runDir}`])
      assert.strictEqual(again.code, 0, `${command}: ${again.stdout}${again.stderr}`)
      assert.include(again.stdout, `run already complete: ${runDir} has a valid checkpoint at step 12 (steps = 12)`)
    }
  }, 120_000)

  it(
    "train --resume continue with --set steps as its one change trains on with the checkpoint's settings",
    async () => {
      const { runDir } = await interruptedRun()
      const resumed = await runCli(["train", "--resume", "continue", "--set", `runDir=${runDir}`, "--set", "steps=16"])
      assert.strictEqual(resumed.code, 0, `${resumed.stdout}${resumed.stderr}`)
      assert.include(resumed.stdout, "trained to step 16")
      assert.match(resumed.stderr, /\n {2}steps +12 → 16 +\[trajectory\]\n\n/)
      const steps = stepLines(runDir)
      assert.deepStrictEqual(steps.map((l) => l.step), Array.from({ length: 16 }, (_, i) => i + 1))
      // The first session's steps stand; the batch of 8 samples of 16 tokens came from the checkpoint.
      const reference = await uninterruptedTrajectory()
      assert.deepStrictEqual(steps.slice(0, 8), reference.filter((l) => "loss" in l).slice(0, 8))
      assert.deepStrictEqual(steps.map((l) => l.tokens), steps.map((l) => l.step * 8 * 16))
    },
    120_000
  )

  it("a config file at resume states changes on top of the checkpoint's configuration", async () => {
    const dir = tempDir("continuum-resume-config-")
    const runDir = path.join(dir, "run")
    const first = await runCli(["train", "--config", writeTinyConfig(path.join(dir, "c.json"), runDir), "--until", "4"])
    assert.strictEqual(first.code, 0, first.stderr)
    const changes = path.join(dir, "changes.json")
    fs.writeFileSync(changes, JSON.stringify({ runDir, eval: { every: 2 } }))
    const plan = await runCli(["plan", "--resume", "exact", "--config", changes])
    assert.strictEqual(plan.code, 0, plan.stderr)
    assert.match(plan.stdout, /\n {2}eval\.every +4 → 2\n/)
    assert.include(plan.stdout, "policy exact")
  }, 60_000)
})
