/**
 * The loop's contract: the order of its events, the history it records through the sink, a single
 * pass over its stream, and typed failures when the history cannot be written.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Context, Effect, Exit, Layer, Option, Ref, Stream } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { CheckpointStore } from "../../src/checkpoint/CheckpointStore.ts"
import type { RunConfig } from "../../src/config/RunConfig.ts"
import type { TrainEvent } from "../../src/train/events.ts"
import { composeRun, noRunLock, type RunParts } from "../../src/train/layers.ts"
import { makeMetricsSink, memoryHistory, MetricsError, MetricsSink } from "../../src/train/MetricsSink.ts"
import { Trainer } from "../../src/train/Trainer.ts"
import { tempDir, tinyConfig } from "../support/tinyRun.ts"

/** Builds a run that keeps its checkpoints and history in memory, and hands its services to `use`. */
const inMemory = <A, E>(
  config: RunConfig,
  use: (context: Context.Context<Trainer | MetricsSink>) => Effect.Effect<A, E>,
  parts: RunParts = {}
) =>
  Effect.scoped(Effect.gen(function*() {
    const context = yield* Layer.build(
      composeRun(config, {
        checkpoints: CheckpointStore.layerMemory,
        metrics: MetricsSink.layerMemory,
        lock: noRunLock,
        ...parts
      })
    )
    return yield* use(context)
  }))

const label = (e: TrainEvent) => `${e._tag} ${e.step}`

describe("the training loop", () => {
  it.effect("evaluates step 0, then per step: update, evaluation and checkpoint when due; the history records it", () =>
    Effect.gen(function*() {
      const runDir = path.join(tempDir(), "run")
      const config = yield* tinyConfig(runDir, { steps: 6, eval: { every: 4 }, checkpoint: { every: 3 } })
      const { events, lines } = yield* inMemory(config, (context) =>
        Effect.gen(function*() {
          const events = [...yield* Stream.runCollect(Context.get(context, Trainer).events)]
          return { events, lines: yield* Context.get(context, MetricsSink).read }
        }))
      assert.deepStrictEqual(events.map(label), [
        "Eval 0",
        "Step 1",
        "Step 2",
        "Step 3",
        "Checkpoint 3",
        "Step 4",
        "Eval 4",
        "Step 5",
        "Step 6",
        "Eval 6",
        "Checkpoint 6"
      ])
      const recorded = events.filter((e) => e._tag !== "Checkpoint").map(({ _tag, ...line }) => line)
      assert.deepStrictEqual(lines, recorded)
      // Nothing of this run touched the disk.
      assert.isFalse(fs.existsSync(runDir))
    }))

  it.effect("its stream can be consumed only once", () =>
    Effect.gen(function*() {
      const config = yield* tinyConfig(path.join(tempDir(), "run"), { steps: 4 })
      const second = yield* inMemory(config, (context) => {
        const { events } = Context.get(context, Trainer)
        return Effect.andThen(Stream.runDrain(events), Effect.exit(Stream.runDrain(events)))
      })
      assert.isTrue(
        Exit.isFailure(second) && Exit.hasDies(second) && Cause.pretty(second.cause).includes("consumed only once")
      )
    }))

  it.effect("a history that cannot take its first line fails the run with a MetricsError, not a defect", () =>
    Effect.gen(function*() {
      const config = yield* tinyConfig(path.join(tempDir(), "run"), { steps: 4 })
      const noSpace = new MetricsError({
        operation: "append",
        file: "metrics.jsonl",
        reason: "no space left on device"
      })
      const full = Layer.effect(
        MetricsSink,
        Effect.map(
          Ref.make(""),
          (text) => makeMetricsSink({ ...memoryHistory(text), appender: Effect.succeed(() => Effect.fail(noSpace)) })
        )
      )
      const exit = yield* inMemory(
        config,
        (context) => Effect.exit(Stream.runDrain(Context.get(context, Trainer).events)),
        { metrics: full }
      )
      assert.isFalse(Exit.hasDies(exit))
      assert.strictEqual(Option.getOrUndefined(Exit.findErrorOption(exit)), noSpace)
    }))
})
