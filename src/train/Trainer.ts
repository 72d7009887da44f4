import * as path from "node:path"
import { Context, Effect, Layer, Option, Stream } from "effect"
import { CheckpointStore, type SaveError } from "../checkpoint/CheckpointStore.ts"
import type { CheckpointIoError } from "../checkpoint/errors.ts"
import { stepDirName } from "../checkpoint/layout.ts"
import { RunSettings } from "../config/RunSettings.ts"
import { DataLoader } from "../data/DataLoader.ts"
import { Kernels } from "../kernels/Kernels.ts"
import { Model } from "../model/ModelService.ts"
import { Optimizer } from "../optim/OptimizerService.ts"
import { Scheduler } from "../optim/Scheduler.ts"
import type { TrainEvent } from "./events.ts"
import { type MetricsError, openMetrics } from "./MetricsWriter.ts"
import { makeSnapshot } from "./snapshot.ts"
import { Start } from "../config/Start.ts"
import { evaluate, makeStepper } from "./stepper.ts"
import { StopSignal } from "./StopSignal.ts"

/**
 * The step loop as a pull-based stream of events: nothing runs until the stream is pulled, and a
 * consumer that stops pulling (take, takeUntil, interrupt) stops training after the current step.
 * Each pull runs one update and then whatever is due after it: evaluation, checkpoint, the end.
 */
const makeTrainer = Effect.gen(function*() {
  const config = yield* RunSettings
  const kernels = yield* Kernels
  const { model, params } = yield* Model
  const optimizer = yield* Optimizer
  const scheduler = yield* Scheduler
  const data = yield* DataLoader
  const start = yield* Start
  const store = yield* CheckpointStore
  const stop = yield* StopSignal

  yield* data.checkVocab(model.vocabSize)
  const { global } = data.geometry
  const evalBatchCount = Math.min(config.eval.batches, Math.floor(data.validationWindows / global))
  const validation = evalBatchCount > 0 ? yield* data.validationBatches(evalBatchCount, global) : []
  const stepper = makeStepper({
    kernels, model, params, data,
    rule: optimizer.rule, optimizer: optimizer.state, clipNorm: config.optimizer.clipNorm
  })
  const tokensPerStep = global * data.seqLen
  const total = config.steps

  let started = false
  const events = Stream.unwrap(Effect.gen(function*() {
    // The run's state (weights, moments, counters) lives in the services: a second pass over the
    // stream would start from the first one's end while counting from the start step again.
    if (started) return yield* Effect.die(new Error("a run's event stream can be consumed only once; build the run again to retrain"))
    started = true
    const metrics = yield* openMetrics(config.runDir, start.step)
    if (start.resumed !== undefined) {
      metrics.appendRecord({ step: start.step, resume: start.resumed.policy, schedule: start.resumed.scheduleAction })
    }
    let step = start.step
    let cursor = start.cursor
    let tokensSeen = start.tokensSeen
    let first = true

    const evaluation = (): TrainEvent => {
      const event = { _tag: "Eval", step, valLoss: evaluate(kernels, model, params, validation) } as const
      metrics.append(event)
      return event
    }

    const checkpoint = Effect.gen(function*() {
      const snapshot = makeSnapshot({
        runId: start.runId, parent: start.parent, config, step, cursor, tokensSeen,
        params, optimizer: optimizer.state, schedule: scheduler.schedule, data
      })
      // Retention runs before the next save: it waits for the previous save, which by then has
      // usually finished, so the step loop never waits on the disk for it.
      yield* store.retain({ keepLatest: config.checkpoint.keepLatest, keepEvery: config.checkpoint.keepEvery })
      if (config.checkpoint.async) yield* store.saveAsync(snapshot)
      else yield* store.save(snapshot)
      return { _tag: "Checkpoint", step, path: path.join(store.location, stepDirName(step)) } as const
    })

    const finish = Effect.gen(function*() {
      yield* store.awaitPending
      yield* store.retain({ keepLatest: config.checkpoint.keepLatest, keepEvery: config.checkpoint.keepEvery })
    })

    return Stream.paginate(undefined, () =>
      Effect.gen(function*() {
        const out: Array<TrainEvent> = []
        if (first) {
          first = false
          if (step === 0 && validation.length > 0) out.push(evaluation())
        }
        const started = performance.now()
        const lr = scheduler.lr(step)
        const result = stepper(cursor, lr)
        step += 1
        cursor += global
        tokensSeen += tokensPerStep
        const seconds = (performance.now() - started) / 1000
        const stepEvent = {
          _tag: "Step", step, loss: result.loss, lr, gradNorm: result.gradNorm,
          tokens: tokensSeen, tokensPerSec: tokensPerStep / Math.max(seconds, 1e-9)
        } as const
        metrics.append(stepEvent)
        out.push(stepEvent)
        // A step is one long synchronous computation, and the fiber would otherwise run many steps
        // before the scheduler yields: give the event loop a turn, so that a stop signal received
        // during the step is seen now and a background save makes progress between steps.
        yield* Effect.yieldNow
        const done = step >= total || stop.requested(step)
        const every = (n: number) => n > 0 && step % n === 0
        if (validation.length > 0 && (every(config.eval.every) || done)) out.push(evaluation())
        if (every(config.checkpoint.every) || done) out.push(yield* checkpoint)
        if (done) yield* finish
        return [out, done ? Option.none() : Option.some(undefined)] as const
      })
    )
  }))

  return { events } satisfies TrainerShape
})

export type TrainError = MetricsError | SaveError | CheckpointIoError

export interface TrainerShape {
  /** The run as a stream of events; pulling it trains. */
  readonly events: Stream.Stream<TrainEvent, TrainError>
}

export class Trainer extends Context.Service<Trainer, TrainerShape>()("continuum/Trainer") {
  static readonly layer = Layer.effect(Trainer, makeTrainer)
}
