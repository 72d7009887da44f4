/** `continuum bench cli`: real child processes of bin/continuum, timed; failures named, bad counts refused. */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { spawnSync } from "node:child_process"
import * as path from "node:path"
import { checkpointsDir, stepDirName } from "../../src/checkpoint/layout.ts"
import { repoRoot } from "../support/processes.ts"
import { tempDir, tinyConfig, trainRun } from "../support/tinyRun.ts"

const cli = (...args: Array<string>) =>
  spawnSync(process.execPath, [path.join(repoRoot, "bin", "continuum"), "bench", "cli", ...args], {
    encoding: "utf8",
    cwd: repoRoot
  })

describe("bench cli", () => {
  it.effect("times --version and inspect --verify over fresh processes and prints mean ± sd and min", () =>
    Effect.gen(function*() {
      const runDir = path.join(tempDir(), "run")
      yield* trainRun(yield* tinyConfig(runDir, { steps: 4 }))
      const checkpoint = path.join(checkpointsDir(runDir), stepDirName(4))

      const ok = cli("--runs", "2", "--warmup", "0", "--checkpoint", checkpoint)
      assert.strictEqual(ok.status, 0, ok.stderr)
      assert.include(ok.stdout, `checkpoint: ${checkpoint}`)
      for (const command of ["continuum --version", "continuum inspect --verify CHECKPOINT"]) {
        const line = ok.stdout.split("\n").find((l) => l.trim().startsWith(command))
        assert.isDefined(line, ok.stdout)
        assert.match(line!, /mean \d+\.\d{3} s ± \d+\.\d{3} s\s+min \d+\.\d{3} s\s+max \d+\.\d{3} s\s+\(2 runs\)$/)
      }
    }))

  it("names the command that failed (exit 1), and refuses a run count below 1 (exit 2)", () => {
    const missing = path.join(tempDir(), "no-such-checkpoint")
    const failed = cli("--runs", "1", "--warmup", "0", "--checkpoint", missing)
    assert.strictEqual(failed.status, 1, failed.stderr)
    assert.include(failed.stderr, `CliBenchFailed: \`continuum inspect --verify ${missing}\` failed: exit 1`)

    const refused = cli("--runs", "0")
    assert.strictEqual(refused.status, 2, refused.stderr)
    assert.include(refused.stderr, "--runs")
  })
})
