/** `continuum report RUN_DIR...` on real runs: the files are written where asked, or next to the first run. */
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { Command } from "effect/cli"
import * as NodeFs from "node:fs"
import * as NodePath from "node:path"
import { reportCommand } from "../../src/cli/commands/report.ts"
import { plannedStartLayer } from "../../src/resume/plannedStart.ts"
import { presets } from "../../src/resume/policy.ts"
import { tempDir, tinyConfig, trainRun } from "../support/tinyRun.ts"

const report = (args: ReadonlyArray<string>) =>
  Command.runWith(reportCommand, { version: "0.0.0" })(args).pipe(Effect.provide(NodeServices.layer))

describe("report command", () => {
  it.effect("charts two runs into report.html, loss.svg and lr.svg; resumes marked", () =>
    Effect.gen(function*() {
      const dir = tempDir("continuum-report-cmd-")
      const a = NodePath.join(dir, "a")
      const b = NodePath.join(dir, "b")
      yield* trainRun(yield* tinyConfig(a, { steps: 8 }))
      // b: 4 steps, then resumed under continue to 8
      yield* trainRun(yield* tinyConfig(b, { steps: 4 }))
      yield* trainRun(yield* tinyConfig(b, { steps: 8 }), plannedStartLayer(presets.continue, undefined))

      const out = NodePath.join(dir, "out")
      yield* report([a, b, "--out", out, "--title", "Two tiny runs"])
      const html = NodeFs.readFileSync(NodePath.join(out, "report.html"), "utf8")
      assert.include(html, "<title>Two tiny runs</title>")
      assert.strictEqual((html.match(/<svg[\s>]/g) ?? []).length, 2)
      assert.match(html, /<td>b<\/td><td class="num">4<\/td><td>continue<\/td><td>extend<\/td>/)
      for (const file of ["loss.svg", "lr.svg"]) {
        assert.isAbove(NodeFs.statSync(NodePath.join(out, file)).size, 1000, file)
      }

      // without --out: next to the first run
      yield* report([b])
      assert.isTrue(NodeFs.existsSync(NodePath.join(b, "report", "report.html")))
      assert.include(NodeFs.readFileSync(NodePath.join(b, "report", "report.html"), "utf8"), "continuum report: b")
    }))

  it.effect("a run directory without metrics fails, naming the file", () =>
    Effect.gen(function*() {
      const dir = tempDir("continuum-report-cmd-")
      const error = yield* Effect.flip(report([NodePath.join(dir, "nothing")]))
      assert.strictEqual((error as { _tag?: string })._tag, "ReportError")
      assert.include(String((error as Error).message), NodePath.join(dir, "nothing", "metrics.jsonl"))
      assert.isFalse(NodeFs.existsSync(NodePath.join(dir, "nothing", "report")))
    }))
})
