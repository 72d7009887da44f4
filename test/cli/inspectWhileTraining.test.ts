/**
 * `inspect --verify` of a run directory while a real `bin/continuum train` process saves a
 * checkpoint every step and keeps only the latest: retention deletes checkpoints under the
 * reader's feet all the time. A checkpoint that vanishes while it is read is named as such, never
 * reported as a failed check, and the command exits 0.
 */
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { checkpointsDir } from "../../src/checkpoint/layout.ts"
import { inspectReport, type RunReport, verificationProblems } from "../../src/cli/handlers/inspect.ts"
import { checkpointDirs } from "../support/checkpoints.ts"
import { finished, runCli, spawnCli } from "../support/processes.ts"
import { tempDir, writeTinyConfig } from "../support/tinyRun.ts"

/** Reports read before the run is stopped, unless enough vanishings were seen sooner. */
const MAX_READS = 3000
const WANTED_VANISHED = 5

describe("inspect --verify while the run trains with retention", () => {
  it("never reports a false failure; checkpoints deleted meanwhile are named as vanished", async () => {
    const dir = tempDir("continuum-inspect-live-")
    const runDir = path.join(dir, "run")
    const config = writeTinyConfig(path.join(dir, "config.json"), runDir, {
      steps: 5000,
      eval: { every: 5000 },
      checkpoint: { every: 1, keepLatest: 1 }
    })
    const trainer = spawnCli(["train", "--config", config])
    const training = finished(trainer)
    while (checkpointDirs(checkpointsDir(runDir)).complete.length === 0) {
      await new Promise((resolve) => setTimeout(resolve, 20))
    }

    // The command itself, twice, while the in-process reader below runs beside it.
    const commands = (async () => {
      const runs = []
      for (let i = 0; i < 2; i++) runs.push(await runCli(["inspect", "--verify", runDir]))
      return runs
    })()

    let reads = 0
    let vanished = 0
    while (reads < MAX_READS && vanished < WANTED_VANISHED) {
      const report = await Effect.runPromise(
        inspectReport({ dir: runDir, verify: true }).pipe(Effect.provide(NodeServices.layer))
      ) as RunReport
      reads += 1
      assert.deepStrictEqual(verificationProblems(report), [], `read ${reads}`)
      vanished += report.vanished?.length ?? 0
      for (const line of report.vanished ?? []) assert.match(line, /^step-\d{8} vanished while reading \(retention\)$/)
    }
    for (const run of await commands) assert.strictEqual(run.code, 0, `${run.stdout}${run.stderr}`)

    trainer.kill("SIGTERM")
    const trained = await training
    assert.strictEqual(trained.code, 0, trained.stderr)
    console.log(`inspect while training: ${reads} reads, ${vanished} checkpoints vanished while read`)
    assert.isAbove(vanished, 0, "the reads never overlapped a deletion: the test proved nothing")
    assert.isTrue(fs.existsSync(path.join(runDir, "metrics.jsonl")))
  }, 180_000)
})
