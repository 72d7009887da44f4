/**
 * Resuming without --from when the newest checkpoint is unusable, with real `bin/continuum`
 * processes. A run of 12 steps leaves checkpoints at 4, 8 and 12; its newest is then damaged in
 * one of several ways. `--resume auto` and `--resume exact` must resume from step 8 with one
 * warning naming step 12, and end where the undamaged run ended; `--from` naming the damaged one
 * must refuse. With every checkpoint damaged, `auto` must refuse in one line naming them all and
 * leave every byte of the run directory as it was.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { checkpointsDir, stepDirName } from "../../src/checkpoint/layout.ts"
import { metricsFile } from "../../src/train/metricsLine.ts"
import { withStore } from "../support/checkpoints.ts"
import { stepLines, trajectory } from "../support/metrics.ts"
import { type Finished, runCli } from "../support/processes.ts"
import { tempDir, tinyConfig, trainRun, writeTinyConfig } from "../support/tinyRun.ts"

const stepDir = (runDir: string, step: number) => path.join(checkpointsDir(runDir), stepDirName(step))

const flipLastByte = (file: string) => {
  const bytes = fs.readFileSync(file)
  bytes[bytes.length - 1] ^= 0x40
  fs.writeFileSync(file, bytes)
}

const editManifest = (runDir: string, step: number, edit: (manifest: Record<string, any>) => void) => {
  const file = path.join(stepDir(runDir, step), "manifest.json")
  const manifest = JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, any>
  edit(manifest)
  fs.writeFileSync(file, JSON.stringify(manifest, null, 2))
}

/**
 * Saves the checkpoint again through the store, with training state that does not decode: it
 * verifies (every hash matches what was written) but cannot be planned from.
 */
const resaveWithBrokenState = (runDir: string, step: number) =>
  withStore(runDir, (store) =>
    Effect.gen(function*() {
      const loaded = yield* store.load(step)
      const { manifest } = loaded
      yield* store.save({
        runId: manifest.runId,
        step,
        ...(manifest.parent === undefined ? {} : { parent: manifest.parent }),
        config: manifest.config,
        fingerprints: manifest.fingerprints,
        tensors: loaded.tensors,
        state: { ...manifest.state, data: "not a data cursor" }
      })
    }))

/** The ways the newest checkpoint is damaged, each with what the warning about it must say. */
const damages: ReadonlyArray<{
  readonly name: string
  readonly damage: (runDir: string, step: number) => void | Promise<void>
  readonly says: string
}> = [
  {
    name: "tensor bytes",
    damage: (runDir, step) => flipLastByte(path.join(stepDir(runDir, step), "model.safetensors")),
    says: "model.safetensors"
  },
  {
    name: "a manifest edit that keeps it valid JSON",
    damage: (runDir, step) =>
      editManifest(runDir, step, (m) => {
        m.fingerprints.trajectory = "0".repeat(m.fingerprints.trajectory.length)
      }),
    says: "manifest"
  },
  { name: "state that does not decode", damage: resaveWithBrokenState, says: "state" }
]

/** Every file under `dir` with its sha256, by relative path. */
const snapshot = (dir: string): Record<string, string> =>
  Object.fromEntries(
    (fs.readdirSync(dir, { recursive: true, encoding: "utf8" }))
      .filter((name) => fs.statSync(path.join(dir, name)).isFile())
      .sort()
      .map((name) => [name, createHash("sha256").update(fs.readFileSync(path.join(dir, name))).digest("hex")])
  )

const assertOk = (run: Finished) => assert.strictEqual(run.code, 0, `exit ${run.code}: ${run.stdout}${run.stderr}`)

const warningsIn = (run: Finished) => `${run.stdout}${run.stderr}`.split("\n").filter((l) => l.includes("WARN"))

describe("resume falls back past unusable checkpoints", () => {
  const dir = tempDir("continuum-fallback-")
  const template = path.join(dir, "template")
  const configFile = path.join(dir, "config.json")
  let reference: ReturnType<typeof trajectory> = []

  /** A copy of the finished 12-step run at `name`, and the config file that names it. */
  const copy = (name: string) => {
    const runDir = path.join(dir, name)
    fs.cpSync(template, runDir, { recursive: true })
    return { runDir, config: writeTinyConfig(path.join(dir, `${name}.json`), runDir) }
  }

  it("trains the template run", async () => {
    await Effect.runPromise(Effect.flatMap(tinyConfig(template), (config) => trainRun(config)))
    reference = trajectory(template)
    writeTinyConfig(configFile, template)
    assert.deepStrictEqual(fs.readdirSync(checkpointsDir(template)).sort(), [4, 8, 12].map(stepDirName))
  }, 60_000)

  for (const { name, damage, says } of damages) {
    for (const policy of ["auto", "exact"]) {
      it(`${name}: --resume ${policy} resumes from the previous checkpoint and says why`, async () => {
        const { runDir, config } = copy(`${policy}-${name.replaceAll(" ", "-")}`)
        await damage(runDir, 12)
        const run = await runCli(["train", "--config", config, "--resume", policy])
        assertOk(run)
        const warnings = warningsIn(run)
        assert.strictEqual(warnings.length, 1, warnings.join("\n"))
        assert.include(warnings[0], stepDirName(12))
        assert.include(warnings[0], says)
        assert.include(run.stderr, `source: checkpoint ${stepDir(runDir, 8)}`)
        // The history past step 8 was replaced by the resumed run's, and it ends like the original.
        assert.deepStrictEqual(stepLines(runDir).map((l) => l.step), Array.from({ length: 12 }, (_, i) => i + 1))
        assert.deepStrictEqual(trajectory(runDir), reference)
        const report = await withStore(runDir, (store) => store.verify(12))
        assert.deepStrictEqual(report.problems, [], "step 12 was saved again, whole")
      }, 60_000)
    }

    it(`${name}: --from the damaged checkpoint refuses, touching nothing`, async () => {
      const { runDir, config } = copy(`from-${name.replaceAll(" ", "-")}`)
      await damage(runDir, 12)
      const before = snapshot(runDir)
      const run = await runCli(["train", "--config", config, "--resume", "exact", "--from", stepDir(runDir, 12)])
      assert.strictEqual(run.code, 2, `${run.stdout}${run.stderr}`)
      assert.deepStrictEqual(snapshot(runDir), before)
    }, 60_000)
  }

  it("every checkpoint unusable: auto and exact refuse in one line naming them all, touching nothing", async () => {
    const { runDir, config } = copy("all-damaged")
    flipLastByte(path.join(stepDir(runDir, 12), "optimizer.safetensors"))
    editManifest(runDir, 8, (m) => {
      m.fingerprints.trajectory = "f".repeat(m.fingerprints.trajectory.length)
    })
    await resaveWithBrokenState(runDir, 4)
    const before = snapshot(runDir)
    assert.include(Object.keys(before), "metrics.jsonl")
    for (const policy of ["auto", "exact"]) {
      const run = await runCli(["train", "--config", config, "--resume", policy])
      assert.strictEqual(run.code, 2, `${policy}: ${run.stdout}${run.stderr}`)
      const lines = `${run.stdout}${run.stderr}`.split("\n").filter((l) => l !== "")
      assert.strictEqual(lines.length, 1, lines.join("\n"))
      for (const step of [4, 8, 12]) assert.include(lines[0], stepDirName(step))
      assert.deepStrictEqual(snapshot(runDir), before, `${policy} changed the run directory`)
    }
    assert.isTrue(fs.existsSync(metricsFile(runDir)))
  }, 60_000)

  it("a run directory without checkpoints still starts fresh under auto", async () => {
    const runDir = path.join(dir, "empty")
    const run = await runCli([
      "train",
      "--config",
      writeTinyConfig(path.join(dir, "empty.json"), runDir, { steps: 4 }),
      "--resume",
      "auto"
    ])
    assertOk(run)
    assert.deepStrictEqual(stepLines(runDir).map((l) => l.step), [1, 2, 3, 4])
  }, 60_000)
})
