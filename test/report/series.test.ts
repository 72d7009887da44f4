import { NodeFileSystem } from "@effect/platform-node"
import { assert, describe, it, layer } from "@effect/vitest"
import { Effect } from "effect"
import * as NodeFs from "node:fs"
import * as os from "node:os"
import * as NodePath from "node:path"
import { ReportError } from "../../src/report/ReportError.ts"
import { loadRunSeries, parseMetrics } from "../../src/report/series.ts"
import { extended, metricsText } from "./fixtures.ts"

/** A fresh directory under the OS temp dir, removed when the test's scope closes. */
const tempDir = Effect.acquireRelease(
  Effect.sync(() => NodeFs.mkdtempSync(NodePath.join(os.tmpdir(), "continuum-report-"))),
  (dir) => Effect.sync(() => NodeFs.rmSync(dir, { recursive: true, force: true }))
)

layer(NodeFileSystem.layer)("loadRunSeries", (it) => {
  it.effect("reads steps, evaluations and resume markers; skips a torn last line", () =>
    Effect.gen(function*() {
      const dir = NodePath.join(yield* tempDir, "run-b")
      NodeFs.mkdirSync(dir)
      // A crash mid-write leaves half a JSON object as the last line.
      NodeFs.writeFileSync(
        NodePath.join(dir, "metrics.jsonl"),
        metricsText(extended) + "{\"step\": 301, \"loss\": 1.2, \"l"
      )
      const series = yield* loadRunSeries(dir)
      assert.strictEqual(series.name, "run-b")
      assert.deepStrictEqual(series.steps.map((p) => p.step), extended.steps.map((p) => p.step))
      assert.deepStrictEqual(series.steps[41], extended.steps[41])
      assert.deepStrictEqual(series.evals, extended.evals)
      assert.deepStrictEqual(series.resumes, [{ step: 150, policy: "continue", schedule: "rebuild" }])
    }), { timeout: 20_000 })

  it.effect("uses the given name over the directory name", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      NodeFs.writeFileSync(NodePath.join(dir, "metrics.jsonl"), "{\"step\":1,\"loss\":2,\"lr\":0.1}\n")
      const series = yield* loadRunSeries(dir + NodePath.sep, "mine")
      assert.strictEqual(series.name, "mine")
      assert.deepStrictEqual(series.steps, [{ step: 1, loss: 2, lr: 0.1 }])
    }))

  it.effect("a missing metrics file is a ReportError naming the file", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const error = yield* Effect.flip(loadRunSeries(NodePath.join(dir, "nope")))
      assert.instanceOf(error, ReportError)
      assert.strictEqual(error._tag, "ReportError")
      assert.strictEqual(error.operation, "read")
      assert.strictEqual(error.path, NodePath.join(dir, "nope", "metrics.jsonl"))
      assert.strictEqual(error.reason, "no such file")
      assert.include(error.message, NodePath.join(dir, "nope", "metrics.jsonl"))
    }))

  it.effect("a metrics path that is a directory is a ReportError naming it", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      NodeFs.mkdirSync(NodePath.join(dir, "metrics.jsonl"))
      const error = yield* Effect.flip(loadRunSeries(dir))
      assert.strictEqual(error.path, NodePath.join(dir, "metrics.jsonl"))
      assert.notStrictEqual(error.reason, "no such file")
    }))
})

describe("parseMetrics", () => {
  it("skips lines that are not JSON or match no known shape", () => {
    const text = [
      "not json",
      "{\"step\":1,\"loss\":2.5,\"lr\":0.01}",
      "{\"step\":-1,\"loss\":2.5,\"lr\":0.01}", // negative step
      "{\"step\":1.5,\"loss\":2.5,\"lr\":0.01}", // fractional step
      "{\"step\":2,\"loss\":\"2.4\",\"lr\":0.01}", // loss not a number
      "{\"step\":3,\"lr\":0.01}", // no loss
      "[1,2,3]",
      "{\"step\":2,\"resume\":\"\",\"schedule\":\"keep\"}", // empty policy name
      "",
      "{\"step\":4,\"loss\":2.1,\"lr\":0.01}"
    ].join("\n")
    const parsed = parseMetrics(text)
    assert.deepStrictEqual(parsed.steps.map((p) => p.step), [1, 4])
    assert.deepStrictEqual(parsed.evals, [])
    assert.deepStrictEqual(parsed.resumes, [])
  })

  it("reads null (a non-finite value written by JSON.stringify) as NaN, keeping the step", () => {
    const parsed = parseMetrics("{\"step\":1,\"loss\":null,\"lr\":0.1}\n{\"step\":2,\"valLoss\":null}\n")
    assert.strictEqual(parsed.steps.length, 1)
    assert.isTrue(Number.isNaN(parsed.steps[0].loss))
    assert.strictEqual(parsed.steps[0].lr, 0.1)
    assert.isTrue(Number.isNaN(parsed.evals[0].valLoss))
  })

  it("a line carrying both a step and an evaluation feeds both series", () => {
    const parsed = parseMetrics("{\"step\":5,\"loss\":2,\"lr\":0.1,\"valLoss\":2.2}\n")
    assert.deepStrictEqual(parsed.steps, [{ step: 5, loss: 2, lr: 0.1 }])
    assert.deepStrictEqual(parsed.evals, [{ step: 5, valLoss: 2.2 }])
  })

  it("a resume marker at k drops the earlier points past k (the replaced trajectory)", () => {
    const line = (o: object) => JSON.stringify(o)
    const text = [
      line({ step: 1, loss: 3, lr: 0.1 }),
      line({ step: 2, loss: 2.9, lr: 0.1 }),
      line({ step: 2, valLoss: 3.1 }),
      line({ step: 3, loss: 2.8, lr: 0.1 }), // ran after the last checkpoint, then the process died
      line({ step: 4, valLoss: 3.0 }),
      line({ step: 2, resume: "exact", schedule: "keep" }),
      line({ step: 3, loss: 2.7, lr: 0.1 }),
      line({ step: 4, loss: 2.6, lr: 0.1 })
    ].join("\n")
    const parsed = parseMetrics(text)
    assert.deepStrictEqual(parsed.steps.map((p) => [p.step, p.loss]), [[1, 3], [2, 2.9], [3, 2.7], [4, 2.6]])
    assert.deepStrictEqual(parsed.evals, [{ step: 2, valLoss: 3.1 }])
    assert.deepStrictEqual(parsed.resumes, [{ step: 2, policy: "exact", schedule: "keep" }])
  })

  it("keeps the last value written for a repeated step, in step order", () => {
    const parsed = parseMetrics(
      "{\"step\":2,\"loss\":5,\"lr\":1}\n{\"step\":1,\"loss\":4,\"lr\":1}\n{\"step\":2,\"loss\":3,\"lr\":1}\n"
    )
    assert.deepStrictEqual(parsed.steps.map((p) => [p.step, p.loss]), [[1, 4], [2, 3]])
  })
})
