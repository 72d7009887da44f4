import { Context, Effect, Layer, Option, Ref, Stream } from "effect"
import { CheckpointStore, type SaveError } from "../checkpoint/CheckpointStore.ts"
import type { CheckpointIoError } from "../checkpoint/errors.ts"
import { RunSettings } from "../config/RunSettings.ts"
import { Start, type StartShape } from "../config/Start.ts"
import { DataLoader } from "../data/DataLoader.ts"
import { Kernels } from "../kernels/Kernels.ts"
import { Model } from "../model/ModelService.ts"
import { Optimizer } from "../optim/OptimizerService.ts"
import { Scheduler } from "../optim/Scheduler.ts"
import type { RankFailed } from "../ranks/errors.ts"
import { startRanks } from "../ranks/Ranks.ts"
import { NonFiniteTraining } from "./errors.ts"
import type { CheckpointEvent, EvalEvent, StepEvent, TrainEvent } from "./events.ts"
import type { ResumeLine } from "./metricsLine.ts"
import { type MetricsError, MetricsSink } from "./MetricsSink.ts"
import { makeSnapshot } from "./snapshot.ts"
import { evaluate, inThisThread, makeStepper } from "./stepper.ts"
import { StopSignal } from "./StopSignal.ts"

/** Where the loop stands after `step` updates: the next batch's sample index, tokens consumed. */
interface LoopState {
  readonly step: number
  readonly cursor: number
  readonly tokens: number
}

/** The line a resumed run writes first: which policy resumed it and what became of the schedule. */
const resumeLine = (start: StartShape): ResumeLine | undefined =>
  start.resumed === undefined
    ? undefined
    : { step: start.step, resume: start.resumed.policy, schedule: start.resumed.scheduleAction }

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
  const sink = yield* MetricsSink
  const stop = yield* StopSignal

  yield* data.checkVocab(model.vocabSize)
  const { global, micro } = data.geometry
  const evalBatchCount = Math.min(config.eval.batches, Math.floor(data.validationWindows / global))
  // The eval.batches batches of B windows, evaluated μ windows at a time: evaluation then needs the
  // activations of one micro-batch, not of the whole batch (at long windows, the larger part of a
  // run's memory), and reuses the training arena where the run's thread trains.
  const validation = evalBatchCount > 0
    ? yield* data.validationBatches(evalBatchCount * (global / micro), micro)
    : []
  // The cpu backend computes each update on worker-thread ranks. Kernels that only work on this
  // thread (gpu.js's device, kernels a caller supplied) compute it here, the P ranks taking their
  // turns: the same sum in order of j.
  const ranks = kernels.forRanks !== undefined
    ? yield* startRanks({ config, data, params, optimizer: optimizer.state, storage: kernels.forRanks.storage })
    : undefined
  const step = ranks?.step ?? inThisThread(makeStepper({
    kernels,
    model,
    params,
    data,
    rule: optimizer.rule,
    optimizer: optimizer.state,
    clipNorm: config.optimizer.clipNorm
  }))
  const rankCount = data.geometry.dp
  const tokensPerStep = global * data.seqLen
  const retention = { keepLatest: config.checkpoint.keepLatest, keepEvery: config.checkpoint.keepEvery }
  const due = (every: number, step: number) => every > 0 && step % every === 0
  // The newest checkpoint of the run, for the advice of a non-finite stop: the one it resumed
  // from (step 0 after a transfer is in no checkpoint), then each one this run saves.
  let newestCheckpoint = start.resumed !== undefined && start.step > 0 ? start.step : undefined

  const checkpoint = (state: LoopState) =>
    Effect.gen(function*() {
      const snapshot = makeSnapshot({
        runId: start.runId,
        parent: start.parent,
        config,
        step: state.step,
        cursor: state.cursor,
        tokensSeen: state.tokens,
        params,
        optimizer: optimizer.state,
        schedule: scheduler.schedule,
        data,
        storage: kernels.storage
      })
      // A background save applies retention once it has published, in the background too: against
      // a bucket, retention lists and deletes objects, and the step loop must not wait on that.
      // A synchronous save waits anyway; retention runs before it, as it always has.
      if (config.checkpoint.async) {
        yield* store.saveAsync(snapshot, { retain: retention })
      } else {
        yield* store.retain(retention)
        yield* store.save(snapshot)
      }
      newestCheckpoint = state.step
      return {
        _tag: "Checkpoint",
        step: state.step,
        path: store.stepLocation(state.step)
      } satisfies CheckpointEvent
    })

  const finish = Effect.andThen(store.awaitPending, store.retain(retention))

  // Weights and optimizer moments live in the services and change in place: a second pass over
  // the stream would start from the first one's end while counting from the start step again,
  // and would cut the first pass's history back to the start step.
  const claimed = yield* Ref.make(false)
  const claim = Effect.flatMap(
    Ref.getAndSet(claimed, true),
    (again) =>
      again
        ? Effect.die(new Error("a run's event stream can be consumed only once; build the run again to retrain"))
        : Effect.void
  )

  const events = Stream.unwrap(Effect.gen(function*() {
    yield* claim
    const history = yield* sink.open(start.step)
    const record = <E extends StepEvent | EvalEvent>(event: E) => Effect.as(history.append(event), event)
    const evaluation = (step: number) =>
      record({ _tag: "Eval", step, valLoss: evaluate(kernels, model, params, validation) } satisfies EvalEvent)

    const resumed = resumeLine(start)
    if (resumed !== undefined) yield* history.append(resumed)
    const initial = start.step === 0 && validation.length > 0 ? [yield* evaluation(0)] : []

    const update = (state: LoopState) =>
      Effect.gen(function*() {
        const began = performance.now()
        const lr = scheduler.lr(state.step)
        const outcome = yield* step(state.cursor, lr, state.step + 1).pipe(
          // Nothing of the failed update is recorded; the save in flight, if any, completes.
          Effect.tapError(() => store.awaitPending)
        )
        if (outcome._tag === "NonFinite") {
          // Nothing of this update is recorded or saved, and retention does not run: the save in
          // flight, if any, completes, and the newest checkpoint stays the last finite one.
          yield* store.awaitPending
          return yield* new NonFiniteTraining({
            step: state.step + 1,
            quantity: outcome.quantity,
            value: outcome.value,
            applied: outcome.applied,
            ...(newestCheckpoint === undefined ? {} : { newestCheckpoint })
          })
        }
        const { loss, gradNorm } = outcome
        const next: LoopState = {
          step: state.step + 1,
          cursor: state.cursor + global,
          tokens: state.tokens + tokensPerStep
        }
        const tokensPerSec = tokensPerStep / Math.max((performance.now() - began) / 1000, 1e-9)
        const stepped = yield* record(
          {
            _tag: "Step",
            step: next.step,
            loss,
            lr,
            gradNorm,
            tokens: next.tokens,
            tokensPerSec,
            ranks: rankCount
          } satisfies StepEvent
        )
        // A step is one long synchronous computation, and the fiber would otherwise run many steps
        // before the scheduler yields: give the event loop a turn, so that a stop signal received
        // during the step is seen now and a background save makes progress between steps.
        yield* Effect.yieldNow
        const done = next.step >= config.steps || stop.requested(next.step)
        const evaluated = validation.length > 0 && (due(config.eval.every, next.step) || done)
          ? [yield* evaluation(next.step)]
          : []
        const saved = due(config.checkpoint.every, next.step) || done ? [yield* checkpoint(next)] : []
        if (done) yield* finish
        return [[stepped, ...evaluated, ...saved], done ? Option.none() : Option.some(next)] as const
      })

    return Stream.concat(
      Stream.fromIterable(initial),
      Stream.paginate({ step: start.step, cursor: start.cursor, tokens: start.tokensSeen }, update)
    )
  }))

  return { events } satisfies TrainerShape
})

export type TrainError = MetricsError | SaveError | CheckpointIoError | NonFiniteTraining | RankFailed

export interface TrainerShape {
  /** The run as a stream of events; pulling it trains. */
  readonly events: Stream.Stream<TrainEvent, TrainError>
}

export class Trainer extends Context.Service<Trainer, TrainerShape>()("continuum/Trainer") {
  static readonly layer = Layer.effect(Trainer, makeTrainer)
}
