/**
 * A resume starts from the checkpoint's own configuration, with real `bin/continuum` processes: a
 * run started from a config file plus `--set` overrides resumes with `--resume exact` and only
 * `--set runDir=…` (how the run is found), and ends like the uninterrupted run; `plan` lists the
 * changes stated on top of the checkpoint's configuration before the actions.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { checkpointsDir, stepDirName } from "../../src/checkpoint/layout.ts"
import { trajectory } from "../support/metrics.ts"
import { runCli } from "../support/processes.ts"
import { tempDir, tinyConfig, trainRun, writeTinyConfig } from "../support/tinyRun.ts"

/** Stated only on the command line of the first session: a resume must find them in the checkpoint. */
const overrides = ["--set", "seed=3", "--set", "optimizer.lr=0.002", "--set", "batch.global=8"]

describe("resume from the checkpoint's own configuration", () => {
  it("train --resume exact with only --set runDir continues a run started from a file and overrides", async () => {
    const dir = tempDir("continuum-resume-config-")
    const runDir = path.join(dir, "run")
    const config = writeTinyConfig(path.join(dir, "config.json"), runDir)
    const first = await runCli(["train", "--config", config, ...overrides, "--until", "8"])
    assert.strictEqual(first.code, 0, first.stderr)
    fs.rmSync(config)

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

    const referenceDir = path.join(dir, "reference")
    await Effect.runPromise(Effect.flatMap(
      tinyConfig(referenceDir, { seed: 3, optimizer: { lr: 0.002 }, batch: { global: 8 } }),
      (c) => trainRun(c)
    ))
    assert.deepStrictEqual(trajectory(runDir), trajectory(referenceDir))
  }, 120_000)

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
