/**
 * The runs `continuum demo --quick` leaves resume from their checkpoints' own configuration, with
 * real `bin/continuum` processes and only `--set runDir=…` stated (the demo's settings — its
 * learning rate, warm-up, checkpoint interval — are in no file): `auto` finds a finished run
 * complete, `continue` trains on with one change, and `exact` from an earlier checkpoint into a
 * new run directory reproduces the demo's own steps bit for bit.
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { checkpointsDir, stepDirName } from "../../src/checkpoint/layout.ts"
import { trajectory } from "../support/metrics.ts"
import { runCli } from "../support/processes.ts"
import { tempDir } from "../support/tinyRun.ts"

let dir: string
let outDir: string
/** The demo's settings as it recorded them: total steps N and the step k its exact variant resumed at. */
let settings: { steps: number; resumeStep: number }

beforeAll(async () => {
  dir = tempDir("continuum-resume-config-demo-")
  outDir = path.join(dir, "out")
  const demo = await runCli(["demo", "--quick", "--out", outDir])
  assert.strictEqual(demo.code, 0, `${demo.stdout}${demo.stderr}`)
  settings = JSON.parse(fs.readFileSync(path.join(outDir, "demo.json"), "utf8")).settings
}, 120_000)
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

describe("resume a run made by demo from its checkpoint's own configuration", () => {
  it("the demo's baseline run is complete: auto says so (train and plan), exact has nothing to run", async () => {
    const runDir = path.join(outDir, "baseline")
    const N = settings.steps
    const newest = path.join(checkpointsDir(runDir), stepDirName(N))
    for (const command of ["plan", "train"]) {
      const auto = await runCli([command, "--resume", "auto", "--set", `runDir=${runDir}`])
      assert.strictEqual(auto.code, 0, `${command}: ${auto.stdout}${auto.stderr}`)
      assert.include(auto.stdout, `run already complete: ${runDir} has a valid checkpoint at step ${N} (steps = ${N})`)
      // The total it compares against is the checkpoint's own, not the reference's.
      if (command === "plan") assert.include(auto.stdout, `configuration: the checkpoint's own (${newest})`)
    }
    const plan = await runCli(["plan", "--resume", "exact", "--set", `runDir=${runDir}`])
    assert.strictEqual(plan.code, 2, `${plan.stdout}${plan.stderr}`)
    assert.include(plan.stderr, `resume step ${N} is not before the new total steps ${N}; nothing is left to run`)
  }, 60_000)

  it("exact from the baseline's checkpoint at k into a new run directory ends like the baseline", async () => {
    const baseline = path.join(outDir, "baseline")
    const k = settings.resumeStep
    const from = path.join(checkpointsDir(baseline), stepDirName(k))
    const runDir = path.join(dir, "branch")
    const args = ["--resume", "exact", "--from", from, "--set", `runDir=${runDir}`]

    const plan = await runCli(["plan", ...args])
    assert.strictEqual(plan.code, 0, `${plan.stdout}${plan.stderr}`)
    assert.include(plan.stdout, `configuration: the checkpoint's own (${from})`)
    assert.include(plan.stdout, "policy exact")
    // The run directory is the one change: the demo's settings all came from the checkpoint.
    assert.match(plan.stdout, /changed fields \(field, checkpoint → this run\):\n {2}runDir [^\n]*\n\n/)

    const resumed = await runCli(["train", ...args])
    assert.strictEqual(resumed.code, 0, `${resumed.stdout}${resumed.stderr}`)
    assert.include(resumed.stdout, `trained to step ${settings.steps}`)
    assert.deepStrictEqual(trajectory(runDir), trajectory(baseline).filter((line) => line.step > k))
  }, 60_000)

  it("continue with --set steps=N+4 as its one change trains 4 more steps", async () => {
    const runDir = path.join(outDir, "exact")
    const N = settings.steps
    const resumed = await runCli([
      "train",
      "--resume",
      "continue",
      "--set",
      `runDir=${runDir}`,
      "--set",
      `steps=${N + 4}`
    ])
    assert.strictEqual(resumed.code, 0, `${resumed.stdout}${resumed.stderr}`)
    assert.include(resumed.stdout, `trained to step ${N + 4}`)
    assert.match(
      resumed.stderr,
      new RegExp(`changed fields[^\\n]*\\n {2}steps +${N} → ${N + 4} +\\[trajectory\\]\\n\\n`)
    )
    const after = trajectory(runDir).filter((line) => "loss" in line && line.step > N)
    assert.deepStrictEqual(after.map((line) => line.step), [N + 1, N + 2, N + 3, N + 4])
    assert.isTrue(fs.existsSync(path.join(checkpointsDir(runDir), stepDirName(N + 4))))
  }, 60_000)
})
