/**
 * Commands load what they run only when they run: `--version` and `inspect` start without the
 * trainer, gpu.js or vega. Each process logs the modules it loads (test/support/moduleLog).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { spawnSync } from "node:child_process"
import * as path from "node:path"
import { checkpointsDir, stepDirName } from "../../src/checkpoint/layout.ts"
import { repoRoot } from "../support/processes.ts"
import { tempDir, tinyConfig, trainRun } from "../support/tinyRun.ts"

/** Runs `bin/continuum ...args`; its exit status, and the modules it loaded (repository-relative where inside). */
const loadedBy = (...args: Array<string>) => {
  const result = spawnSync(
    process.execPath,
    ["--import", path.join(repoRoot, "test/support/moduleLog/register.mjs"), "bin/continuum", ...args],
    { cwd: repoRoot, encoding: "utf8" }
  )
  const modules = result.stderr.split("\n").filter((l) => l.startsWith("module: file://")).map((l) =>
    path.relative(repoRoot, decodeURIComponent(new URL(l.slice("module: ".length)).pathname))
  )
  return { status: result.status, stderr: result.stderr, modules }
}

/** Where the heavy parts live: none of these may load before a command that needs them runs. */
const heavy = [
  /node_modules\/gpu\.js\//,
  /node_modules\/vega(-lite)?\//,
  /node_modules\/gl\//,
  /^src\/train\//,
  /^src\/model\//,
  /^src\/kernels\/gpujs\/(?!modeNames\.ts$)/,
  /^src\/report\//,
  /^src\/demo\/(?!stepCounts\.ts$)/,
  /^src\/bench\/(?!families\.ts$|sizes\.ts$)/
]

const assertNoneHeavy = (modules: ReadonlyArray<string>) => {
  const loaded = modules.filter((m) => heavy.some((pattern) => pattern.test(m)))
  assert.deepStrictEqual(loaded, [])
}

describe("CLI start-up", () => {
  it("--version loads the command definitions only", () => {
    const run = loadedBy("--version")
    assert.strictEqual(run.status, 0, run.stderr)
    assert.include(run.modules, "src/cli/commands/train.ts")
    assert.notInclude(run.modules, "src/cli/handlers/train.ts")
    assertNoneHeavy(run.modules)
  })

  it.effect("inspect --verify loads the inspect handler and no trainer, gpu.js or vega", () =>
    Effect.gen(function*() {
      const runDir = path.join(tempDir(), "run")
      yield* trainRun(yield* tinyConfig(runDir, { steps: 4 }))
      const run = loadedBy("inspect", "--verify", path.join(checkpointsDir(runDir), stepDirName(4)))
      assert.strictEqual(run.status, 0, run.stderr)
      assert.include(run.modules, "src/cli/handlers/inspect.ts")
      assertNoneHeavy(run.modules)
    }))
})
