/**
 * Exact recovery, in process: a run interrupted after some step and resumed with the exact policy
 * must reproduce the uninterrupted run bit for bit — every logged loss, learning rate, gradient
 * norm and validation loss, and the final model and optimizer tensors — also with background
 * saves and with the data-parallel degree and accumulation changed across the resume.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Layer, Stream } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { stepDirName } from "../../src/checkpoint/layout.ts"
import type { Manifest } from "../../src/checkpoint/manifest.ts"
import type { RunConfig } from "../../src/config/RunConfig.ts"
import { Start } from "../../src/config/Start.ts"
import { plannedStartLayer } from "../../src/resume/plannedStart.ts"
import { presets } from "../../src/resume/policy.ts"
import type { TrainEvent } from "../../src/train/events.ts"
import { runLayer } from "../../src/train/layers.ts"
import { metricsFile, readMetrics } from "../../src/train/metricsLine.ts"
import { Trainer } from "../../src/train/Trainer.ts"
import { assertSameTensors } from "../support/compare.ts"
import { trajectory } from "../support/metrics.ts"
import { type RunResult, stepEvents, tempDir, tinyConfig, trainRun } from "../support/tinyRun.ts"

const exactStart = () => plannedStartLayer(presets.exact, undefined)

/**
 * Trains `config` but stops pulling the event stream after step `stopAfter`, as a process that is
 * stopped mid-run would: whatever that step's pull did (evaluation, checkpoint) has happened, and
 * closing the run's scope lets a background save in flight finish.
 */
const trainUntil = (config: RunConfig, stopAfter: number, start: Layer.Layer<Start, unknown, any> = Start.fresh) =>
  Effect.scoped(Effect.gen(function*() {
    const context = yield* Layer.build(runLayer(config, start))
    const events = yield* Stream.runCollect(
      Context.get(context, Trainer).events.pipe(
        Stream.takeUntil((e: TrainEvent) => e._tag === "Step" && e.step >= stopAfter)
      )
    )
    return [...events]
  }))

const assertSameState = (actual: RunResult, expected: RunResult) => {
  assertSameTensors(actual.params, expected.params, "model")
  assertSameTensors(actual.optimizer, expected.optimizer, "optimizer")
}

const resumeMarkers = (runDir: string) => readMetrics(metricsFile(runDir)).filter((r) => "resume" in r)

describe("exact resume", () => {
  it.effect("stopping at any step k and resuming to N reproduces the uninterrupted run bit for bit", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const N = 10
      const reference = yield* trainRun(yield* tinyConfig(path.join(dir, "ref"), { steps: N }))
      const expected = trajectory(path.join(dir, "ref"))
      for (let k = 1; k < N; k++) {
        const runDir = path.join(dir, `k${k}`)
        // Checkpoint cadence is not part of the trajectory: saving every k steps is allowed.
        yield* trainUntil(yield* tinyConfig(runDir, { steps: N, checkpoint: { every: k } }), k)
        const resumed = yield* trainRun(yield* tinyConfig(runDir, { steps: N }), exactStart())
        assert.deepStrictEqual(
          stepEvents(resumed.events).map((e) => e.step),
          Array.from({ length: N - k }, (_, i) => k + 1 + i)
        )
        assert.deepStrictEqual(trajectory(runDir), expected, `metrics after resuming at ${k}`)
        assertSameState(resumed, reference)
      }
    }))

  it.effect("a run that ran past its last checkpoint is rolled back to it: metrics are truncated, not doubled", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const N = 12
      const reference = yield* trainRun(yield* tinyConfig(path.join(dir, "ref"), { steps: N }))
      const runDir = path.join(dir, "run")
      // Checkpoints at 4 and 8; the process is lost after step 10, two steps past the last one.
      yield* trainUntil(yield* tinyConfig(runDir, { steps: N }), 10)
      assert.strictEqual(trajectory(runDir).filter((r) => "loss" in r).length, 10)
      const resumed = yield* trainRun(yield* tinyConfig(runDir, { steps: N }), exactStart())
      assert.deepStrictEqual(stepEvents(resumed.events).map((e) => e.step), [9, 10, 11, 12])
      assert.deepStrictEqual(trajectory(runDir), trajectory(path.join(dir, "ref")))
      assert.deepStrictEqual(resumeMarkers(runDir).map((r) => [r.step, String(r.resume), String(r.schedule)]), [[
        8,
        "exact",
        "keep"
      ]])
      assertSameState(resumed, reference)
    }))

  it.effect("resuming twice (0→3→7→12) keeps the run's identity and reproduces it", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const N = 12
      const reference = yield* trainRun(yield* tinyConfig(path.join(dir, "ref"), { steps: N }))
      const runDir = path.join(dir, "run")
      const config = yield* tinyConfig(runDir, { steps: N, checkpoint: { every: 1 } })
      yield* trainUntil(config, 3)
      yield* trainUntil(config, 7, exactStart())
      const resumed = yield* trainRun(config, exactStart())
      assert.deepStrictEqual(trajectory(runDir), trajectory(path.join(dir, "ref")))
      assert.deepStrictEqual(resumeMarkers(runDir).map((r) => r.step), [3, 7])
      assertSameState(resumed, reference)
    }))

  it.effect("with background saves, stopping and resuming is still exact", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const N = 12
      const reference = yield* trainRun(yield* tinyConfig(path.join(dir, "ref"), { steps: N }))
      const runDir = path.join(dir, "run")
      const config = yield* tinyConfig(runDir, { steps: N, checkpoint: { every: 3, async: true } })
      // The stream is abandoned right after the step-6 save was handed to the background; closing
      // the run must still leave a complete step-6 checkpoint behind.
      yield* trainUntil(config, 6)
      const resumed = yield* trainRun(config, exactStart())
      assert.deepStrictEqual(stepEvents(resumed.events)[0]!.step, 7)
      assert.deepStrictEqual(trajectory(runDir), trajectory(path.join(dir, "ref")))
      assertSameState(resumed, reference)
    }))

  it.effect("background and synchronous saves give the same run", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const sync = yield* trainRun(
        yield* tinyConfig(path.join(dir, "sync"), { checkpoint: { every: 2, async: false } })
      )
      const background = yield* trainRun(
        yield* tinyConfig(path.join(dir, "async"), { checkpoint: { every: 2, async: true } })
      )
      assert.deepStrictEqual(trajectory(path.join(dir, "async")), trajectory(path.join(dir, "sync")))
      assertSameState(background, sync)
    }))

  it.effect("changing P and A across exact resumes (B=8, μ=2: P=1 → 2 → 4 → 1, real ranks) is bit-exact", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const N = 16
      const geometry = (dp: number) => ({ batch: { global: 8, micro: 2, dp } })
      const reference = yield* trainRun(yield* tinyConfig(path.join(dir, "ref"), { steps: N, ...geometry(1) }))
      const runDir = path.join(dir, "run")
      yield* trainUntil(yield* tinyConfig(runDir, { steps: N, ...geometry(1) }), 5) // A = 4; checkpoint at 4
      yield* trainUntil(
        yield* tinyConfig(runDir, { steps: N, ...geometry(2), checkpoint: { async: true } }),
        8,
        exactStart()
      ) // A = 2
      yield* trainUntil(yield* tinyConfig(runDir, { steps: N, ...geometry(4) }), 13, exactStart()) // A = 1; at 12
      const resumed = yield* trainRun(yield* tinyConfig(runDir, { steps: N, ...geometry(1) }), exactStart()) // A = 4
      assert.deepStrictEqual(trajectory(runDir), trajectory(path.join(dir, "ref")))
      assertSameState(resumed, reference)
    }))

  it.effect("the resumed run keeps its run id and records its parent at the resume step", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const runDir = path.join(dir, "run")
      const config = yield* tinyConfig(runDir, { steps: 8, checkpoint: { every: 4 } })
      yield* trainUntil(config, 4)
      yield* trainRun(config, exactStart())
      const manifest = (step: number) =>
        JSON.parse(
          fs.readFileSync(path.join(runDir, "checkpoints", stepDirName(step), "manifest.json"), "utf8")
        ) as Manifest
      const first = manifest(4)
      const last = manifest(8)
      assert.isUndefined(first.parent)
      assert.strictEqual(last.runId, first.runId, "exact recovery continues the same run")
      assert.deepStrictEqual(last.parent, { runId: first.runId, step: 4, policy: "exact" })
    }))
})
