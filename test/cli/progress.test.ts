/**
 * Progress of the long commands: the renderer on a terminal and elsewhere, and the lines that
 * `inspect --verify`, `export`, `bench save` and `demo` print on stderr (real processes, whose
 * stderr is a pipe: plain lines).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { makeTaskProgress } from "../../src/cli/progress.ts"
import { repoRoot } from "../support/processes.ts"
import { tempDir, tinyConfig, trainRun } from "../support/tinyRun.ts"

/** A stream that keeps what is written, as a terminal or as a pipe. */
const capture = (isTTY: boolean) => {
  const writes: Array<string> = []
  return { isTTY, writes, write: (text: string) => writes.push(text) }
}

const cli = (args: ReadonlyArray<string>) => {
  const result = spawnSync(process.execPath, [path.join(repoRoot, "bin", "continuum"), ...args], { encoding: "utf8" })
  return { status: result.status, stdout: result.stdout, stderr: result.stderr }
}

describe("the task progress renderer", () => {
  it("on a terminal: one line redrawn when the percentage moves, cleared at the end", () => {
    const stream = capture(true)
    const progress = makeTaskProgress(stream)
    for (const done of [0, 1, 2, 50, 100]) progress.report({ task: "verify a", done, total: 100, unit: "items" })
    progress.report({ task: "verify a", done: 100, total: 100, unit: "items" }) // no change: not redrawn
    progress.log("kept line")
    progress.finish()
    assert.deepStrictEqual(stream.writes, [
      "\r\x1b[2Kverify a: 0 of 100 items (0%)",
      "\r\x1b[2Kverify a: 1 of 100 items (1%)",
      "\r\x1b[2Kverify a: 2 of 100 items (2%)",
      "\r\x1b[2Kverify a: 50 of 100 items (50%)",
      "\r\x1b[2Kverify a: 100 of 100 items (100%)",
      "\r\x1b[2Kkept line\nverify a: 100 of 100 items (100%)",
      "\r\x1b[2K"
    ])
  })

  it("elsewhere: a plain line when a task starts, at each quarter and at its end; bytes in MB", () => {
    const stream = capture(false)
    const progress = makeTaskProgress(stream)
    const total = 40_000_000
    for (let done = 0; done <= total; done += 4_000_000) {
      progress.report({ task: "verify model.safetensors", done, total, unit: "bytes" })
    }
    progress.report({ task: "encode", done: 0, total: 3, unit: "items", detail: "bf16" })
    progress.finish()
    assert.deepStrictEqual(stream.writes, [
      "verify model.safetensors: 0.00 MB of 40.0 MB (0%)\n",
      "verify model.safetensors: 12.0 MB of 40.0 MB (30%)\n",
      "verify model.safetensors: 20.0 MB of 40.0 MB (50%)\n",
      "verify model.safetensors: 32.0 MB of 40.0 MB (80%)\n",
      "verify model.safetensors: 40.0 MB of 40.0 MB (100%)\n",
      "encode: 0 of 3 items (0%) · bf16\n"
    ])
  })
})

describe("the long commands report progress on stderr", () => {
  it.effect("inspect --verify reports each file it hashes; export reads, encodes and writes", () =>
    Effect.gen(function*() {
      const runDir = path.join(tempDir(), "run")
      yield* trainRun(yield* tinyConfig(runDir, { steps: 8 }))
      const checkpoint = path.join(runDir, "checkpoints", "step-00000008")

      const inspect = cli(["inspect", checkpoint, "--verify"])
      assert.strictEqual(inspect.status, 0, inspect.stderr)
      for (const file of ["model.safetensors", "optimizer.safetensors"]) {
        assert.match(
          inspect.stderr,
          new RegExp(`^verify step-00000008/${file}: 0\\.00 MB of [0-9.]+ MB \\(0%\\)$`, "m")
        )
        assert.match(
          inspect.stderr,
          new RegExp(`^verify step-00000008/${file}: ([0-9.]+) MB of \\1 MB \\(100%\\)$`, "m")
        )
      }
      assert.notInclude(inspect.stdout, "verify step-")

      const out = path.join(path.dirname(runDir), "model.safetensors")
      const exported = cli(["export", checkpoint, "--out", out, "--dtype", "bf16"])
      assert.strictEqual(exported.status, 0, exported.stderr)
      assert.match(exported.stderr, /^load step-00000008\/model\.safetensors: .* \(100%\)$/m)
      assert.match(exported.stderr, /^encode \d+ tensors as bf16: (\d+) of \1 items \(100%\)$/m)
      assert.include(exported.stderr, `write ${out}: `)
      assert.isTrue(fs.existsSync(out))
    }))

  it("bench save reports the steps of all its runs, those to the local S3 server included", () => {
    const result = cli(["bench", "save", "--steps", "4", "--every", "2"])
    assert.strictEqual(result.status, 0, result.stderr)
    assert.match(result.stderr, /^bench save: 1 of 20 steps \(5%\) · no checkpoints$/m)
    assert.match(result.stderr, /^bench save: 20 of 20 steps \(100%\) · async saves, local S3$/m)
    assert.include(result.stdout, "async saves, local S3")
  })

  it("demo --quick prefixes each run's lines with the whole demo's progress", () => {
    const out = path.join(tempDir(), "demo")
    const result = cli(["demo", "--quick", "--out", out])
    assert.strictEqual(result.status, 0, result.stderr)
    assert.match(result.stderr, /^demo \d+% · baseline · step 16\/16 /m)
    assert.match(result.stderr, /^demo 100% · extend · step 32\/32 /m)
    assert.include(result.stderr, `writing the report → ${path.join(out, "report")}`)
  })
})
