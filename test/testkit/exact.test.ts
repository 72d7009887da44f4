/**
 * The resume test kit's exact-resume and rejection checks: on the default run composition every
 * check passes (over random stop points); on deliberately broken compositions each fails with the
 * typed error that names the step and the field.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import fc from "fast-check"
import * as fs from "node:fs"
import * as path from "node:path"
import { presets } from "../../src/resume/policy.ts"
import { checkExactResume, checkRejected, type ResumeMismatch, type RunBuilder } from "../../src/testkit/index.ts"
import { runLayer } from "../../src/train/layers.ts"
import { expectFailure, kitConfig, tampered } from "../support/testkitSetup.ts"
import { tempDir, tinyConfig } from "../support/tinyRun.ts"

const NUM_RUNS = 3

describe("checkExactResume", () => {
  it.effect("passes on the default composition for random stop points, sync or async saves", () =>
    Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(
          fc.uniqueArray(fc.integer({ min: 1, max: 11 }), { minLength: 1, maxLength: 2 }),
          fc.boolean(),
          async (stopAt, async) => {
            const base = await Effect.runPromise(kitConfig({ checkpoint: { async } }))
            const report = await Effect.runPromise(checkExactResume({ config: base, stopAt }))
            assert.deepStrictEqual(report.stopPoints.map((s) => s.stopAt), stopAt)
            for (const s of report.stopPoints) {
              assert.isAbove(s.eventsCompared, 12)
              assert.strictEqual(s.tensorsCompared, 36)
            }
          }
        ),
        { numRuns: NUM_RUNS }
      )
    ))

  it.effect("fails at step k + 2 when the composition drops the optimizer moments on resume", () =>
    Effect.gen(function*() {
      const base = yield* kitConfig()
      const error = (yield* expectFailure(
        checkExactResume({ config: base, stopAt: [5], build: tampered((s) => ({ ...s, optimizer: undefined })) })
      )) as ResumeMismatch
      assert.strictEqual(error._tag, "ResumeMismatch")
      // Step 6 still sees the same weights and batch; its update differs, so step 7's loss does.
      assert.deepInclude(error, { stopAt: 5, step: 7, field: "loss" })
      assert.notStrictEqual(error.expected, error.actual)
      assert.include(error.message, "exact resume from step 5 differs from the uninterrupted run at step 7: loss is")
    }))

  it.effect("fails at step k + 1 when the composition restarts the data cursor", () =>
    Effect.gen(function*() {
      const base = yield* kitConfig()
      const error = (yield* expectFailure(
        checkExactResume({ config: base, stopAt: [4], build: tampered((s) => ({ ...s, cursor: 0 })) })
      )) as ResumeMismatch
      assert.deepInclude(error, { _tag: "ResumeMismatch", stopAt: 4, step: 5, field: "loss" })
    }))

  it.effect("fails on the token count when only the run counters are wrong", () =>
    Effect.gen(function*() {
      const base = yield* kitConfig()
      const error = (yield* expectFailure(
        checkExactResume({
          config: base,
          stopAt: [8],
          build: tampered((s) => ({ ...s, tokensSeen: s.tokensSeen + 1 }))
        })
      )) as ResumeMismatch
      // The Step events carry the token count, so the first difference is the first resumed step.
      assert.deepInclude(error, { _tag: "ResumeMismatch", step: 9, field: "tokens" })
    }))

  it.effect("accepts what exact allows to change: P, evaluation and checkpoint cadence", () =>
    Effect.gen(function*() {
      const base = yield* kitConfig()
      const report = yield* checkExactResume({
        config: base,
        stopAt: [3, 3, 10],
        changes: { "batch.dp": 2, "eval.every": 3, "checkpoint.every": 5, "checkpoint.async": true }
      })
      assert.deepStrictEqual(report.stopPoints.map((s) => s.stopAt), [3, 10])
    }))

  it.effect("rejects stop points outside [1, N − 1]", () =>
    Effect.gen(function*() {
      const base = yield* kitConfig()
      for (const k of [0, 12, 2.5]) {
        const error = yield* expectFailure(checkExactResume({ config: base, stopAt: [k] }))
        assert.deepInclude(error, { _tag: "InvalidStopPoint", stopAt: k, totalSteps: 12 })
      }
    }))
})

describe("checkRejected", () => {
  it.effect("returns the rejection, and fails when a resume is accepted or a rejected start writes", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      // The exact check leaves a finished 12-step run in <dir>/stop-4.
      yield* checkExactResume({ config: yield* kitConfig(), stopAt: [4], workDir: dir })
      const run = yield* tinyConfig(path.join(dir, "stop-4"))

      const rejected = yield* checkRejected({ config: { ...run, steps: 8 }, policy: presets.continue })
      assert.deepStrictEqual(rejected.reasons.map((r) => r._tag), ["ResumeStepBeyondTotal"])

      const accepted = yield* expectFailure(checkRejected({ config: { ...run, steps: 16 }, policy: presets.continue }))
      assert.strictEqual(accepted._tag, "ResumeNotRejected")

      const scribbler: RunBuilder = (c, start) =>
        Layer.unwrap(Effect.sync(() => {
          fs.appendFileSync(path.join(c.runDir, "metrics.jsonl"), "{}\n")
          return runLayer(c, start)
        }))
      const wrote = yield* expectFailure(
        checkRejected({ config: { ...run, steps: 8 }, policy: presets.continue, build: scribbler })
      )
      assert.deepInclude(wrote, { _tag: "RejectionWroteFiles", files: ["metrics.jsonl"] })
    }))
})
