/**
 * A run composed in code: the reference pipeline with two components swapped — the data (any
 * text already in memory) and the schedule (cosine decay) — consumed as a stream of step events
 * that stops early once the loss is low enough.
 *
 *   node --import tsx examples/compose.ts [TEXT_FILE]
 */
import { Console, Effect, Stream } from "effect"
import * as fs from "node:fs"
import {
  byteStream,
  composeRun,
  DataLoader,
  decodeRunConfig,
  decodeSchedule,
  Scheduler,
  Trainer
} from "../src/index.ts"

export const composedRun = (runDir: string, text: Uint8Array, maxSteps: number) =>
  Effect.gen(function*() {
    const config = yield* decodeRunConfig({
      runDir,
      steps: 300,
      model: { dim: 32, layers: 1, heads: 2, ffnDim: 64, seqLen: 32 },
      batch: { global: 8, micro: 4 },
      eval: { every: 0 },
      checkpoint: { every: 0 }
    })

    // Swap the data source: any bytes, here a text already in memory.
    const data = DataLoader.layerTokens(byteStream("inline text", text), {
      valFraction: 0.1,
      seqLen: config.model.seqLen,
      seed: config.seed,
      batch: config.batch
    })
    // Swap the schedule: 20 warm-up steps, then cosine decay over the second half of the run.
    // Decoded with the run's steps and peak LR, so a schedule that does not fit is refused here.
    const schedule = yield* Effect.fromResult(decodeSchedule(
      { kind: "wsd", warmupSteps: 20, decayRatio: 0.5, decayShape: "cosine", minLrFactor: 0.05 },
      config
    ))

    const steps = Effect.gen(function*() {
      const trainer = yield* Trainer
      return yield* trainer.events.pipe(
        Stream.filter((event) => event._tag === "Step"),
        Stream.tap((event) =>
          event.step % 10 === 0 ? Console.log(`step ${event.step} loss ${event.loss.toFixed(3)}`) : Effect.void
        ),
        Stream.takeUntil((event) => event.loss < 1.5), // stop early: no more steps are computed
        Stream.take(maxSteps),
        Stream.runCollect
      )
    })
    return yield* steps.pipe(Effect.provide(composeRun(config, { data, scheduler: Scheduler.layerSchedule(schedule) })))
  })

if (import.meta.url === `file://${process.argv[1]}`) {
  const text = fs.readFileSync(process.argv[2] ?? new URL("../README.md", import.meta.url))
  const steps = await Effect.runPromise(composedRun("runs/example", text, 60))
  console.log(`ran ${steps.length} steps; last loss ${steps[steps.length - 1]?.loss.toFixed(3)}`)
}
