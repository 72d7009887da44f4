/**
 * The ranks of a run: P worker threads, started when the run starts and ended when its scope
 * closes, that compute each update together over shared memory (`sharedMemory.ts`,
 * `rankStep.ts`). The run's thread only writes the step's token ids, sends one `Step` to each rank
 * and reads their replies: it stays free for signals and background saves while the ranks work.
 */
import { NodeWorker } from "@effect/platform-node"
import { Cause, Effect, Queue, type Scope } from "effect"
import { WorkerPlatform } from "effect/workers/Worker"
import { Worker } from "node:worker_threads"
import type { RunConfig } from "../config/RunConfig.ts"
import type { DataLoaderShape } from "../data/DataLoader.ts"
import type { WasmStorage } from "../kernels/cpu/wasm/storage.ts"
import type { OptimizerState } from "../optim/optimizer.ts"
import type { NamedTensors } from "../tensor/namedTensors.ts"
import { abortRanks } from "./barrier.ts"
import { RankFailed } from "./errors.ts"
import type { StepOutcome } from "./outcome.ts"
import { decodeReply, encodeRequest, type RankReply, type RankRequest, type Stepped } from "./protocol.ts"
import type { RankPhases } from "./rankStep.ts"
import {
  allocateShared,
  gradientBytes,
  moveIntoShared,
  planLayout,
  type SharedLayout,
  type SharedViews,
  viewsOf
} from "./sharedMemory.ts"

export interface RanksInput {
  readonly config: RunConfig
  readonly data: DataLoaderShape
  /** The live parameters and optimizer state: moved into shared memory, in place. */
  readonly params: NamedTensors
  readonly optimizer: OptimizerState
  /** The run's cpu kernels storage: the tensors move into its memory, which the ranks share. */
  readonly storage: WasmStorage
}

export interface RanksShape {
  /** P, the number of ranks. */
  readonly count: number
  /** Bytes of the gradient slots and the step gradient. */
  readonly gradientBytes: number
  /** Where each rank's time went in the last update (for the benchmark). */
  readonly lastPhases: () => ReadonlyArray<RankPhases>
  /** Update number `update` (1-based) from the samples at `cursor`, with learning rate `lr`. */
  readonly step: (cursor: number, lr: number, update: number) => Effect.Effect<StepOutcome, RankFailed>
}

/** A rank's thread went away without replying (it exited, or could not start). */
interface Gone {
  readonly _tag: "Gone"
  readonly rank: number
  readonly reason: string
}

interface RankHandle {
  readonly send: (request: RankRequest) => Effect.Effect<void>
  readonly reply: Effect.Effect<RankReply | Gone>
}

// Compiled JavaScript in a package, TypeScript in a checkout run from its sources.
const rankModule = new URL(`./rankWorker${import.meta.url.endsWith(".ts") ? ".ts" : ".js"}`, import.meta.url)

const spawnRankThread = () =>
  new Worker(new URL("./rankWorker.mjs", import.meta.url), { workerData: { entry: rankModule.href } })

const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error))

const startRank = (rank: number, ranks: number, control: Int32Array) =>
  Effect.gen(function*() {
    const platform = yield* WorkerPlatform
    const worker = yield* Effect.mapError(
      platform.spawn<unknown, unknown>(rank),
      (error) => new RankFailed({ rank, ranks, step: 0, reason: error.message })
    )
    const replies = yield* Queue.unbounded<RankReply | Gone>()
    // The thread's end, expected or not, wakes the ranks that would wait for it at a barrier.
    const gone = (cause: Cause.Cause<unknown>) =>
      Effect.andThen(
        Effect.sync(() => abortRanks(control)),
        Queue.offer(
          replies,
          { _tag: "Gone", rank, reason: `its thread ended: ${messageOf(Cause.squash(cause))}` } satisfies Gone
        )
      )
    yield* worker.run((raw) => Effect.suspend(() => Queue.offer(replies, decodeReply(raw)))).pipe(
      Effect.catchCause(gone),
      Effect.forkScoped
    )
    return {
      send: (request) => Effect.orDie(worker.send(encodeRequest(request))),
      reply: Queue.take(replies)
    } satisfies RankHandle
  })

/** The failure among a step's replies, preferring the rank that failed over those that gave up. */
const failureOf = (replies: ReadonlyArray<RankReply | Gone>, ranks: number, step: number): RankFailed | undefined => {
  const failed = replies.find((r) => r._tag === "Failed" || r._tag === "Gone") ??
    replies.find((r) => r._tag === "Aborted")
  if (failed === undefined) return undefined
  const reason = failed._tag === "Failed" || failed._tag === "Gone" ? failed.reason : "gave up the step"
  return new RankFailed({ rank: failed.rank, ranks, step, reason })
}

/** The outcome of an update from the ranks' replies, as the single-thread stepper decides it. */
const outcomeOf = (
  layout: SharedLayout,
  replies: ReadonlyArray<Stepped>
): StepOutcome => {
  const { loss, gradNorm } = replies[0]!
  if (!Number.isFinite(loss)) return { _tag: "NonFinite", quantity: "loss", value: loss, applied: false }
  if (!Number.isFinite(gradNorm)) {
    return { _tag: "NonFinite", quantity: "gradient norm", value: gradNorm, applied: false }
  }
  // The first non-finite tensor in canonical order: parameters, then optimizer state.
  const found = replies.flatMap((r) => r.nonFinite)
  for (const [slots, what] of [[layout.params, "parameter"], [layout.state, "optimizer state"]] as const) {
    for (const slot of slots) {
      const entry = found.find((e) => e.name === slot.name)
      if (entry !== undefined) {
        return { _tag: "NonFinite", quantity: `${what} ${entry.name}`, value: entry.value, applied: true }
      }
    }
  }
  return { _tag: "Updated", loss, gradNorm }
}

const writeTokens = (views: SharedViews, data: DataLoaderShape, cursor: number): void => {
  for (let j = 0; j < data.geometry.microBatches; j++) {
    const batch = data.microBatch(cursor, j)
    views.ids(j).set(batch.ids)
    views.targets(j).set(batch.targets)
  }
}

export const startRanks = (input: RanksInput): Effect.Effect<RanksShape, RankFailed, Scope.Scope> =>
  Effect.gen(function*() {
    const { config, data, optimizer } = input
    const { geometry } = data
    const layout = planLayout(input.params, optimizer.tensors, {
      ranks: geometry.dp,
      microBatches: geometry.microBatches,
      microTokens: geometry.micro * data.seqLen
    })
    const buffers = allocateShared(layout, input.storage)
    const views = viewsOf(layout, buffers, input.storage)
    moveIntoShared(input.params, views.params)
    moveIntoShared(optimizer.tensors, views.state)

    const ranks = yield* Effect.forEach(
      Array.from({ length: layout.ranks }, (_, rank) => rank),
      (rank) => startRank(rank, layout.ranks, views.control)
    )
    const exchange = (requests: (rank: number) => RankRequest, step: number) =>
      Effect.gen(function*() {
        yield* Effect.forEach(ranks, (r, rank) => r.send(requests(rank)), { discard: true })
        const replies = yield* Effect.forEach(ranks, (r) => r.reply)
        const failure = failureOf(replies, layout.ranks, step)
        if (failure !== undefined) {
          abortRanks(views.control)
          return yield* failure
        }
        return replies
      })

    yield* exchange((rank) => ({ _tag: "Setup", rank, config, layout, buffers }), 0)

    let lastPhases: ReadonlyArray<RankPhases> = []
    return {
      count: layout.ranks,
      lastPhases: () => lastPhases,
      gradientBytes: gradientBytes(layout),
      step: (cursor, lr, update) =>
        Effect.gen(function*() {
          writeTokens(views, data, cursor)
          const replies = yield* exchange(() => ({ _tag: "Step", update, lr, optimizerStep: optimizer.step }), update)
          const stepped = replies.filter((r): r is Stepped => r._tag === "Stepped")
          lastPhases = stepped.map((r) => r.phases)
          const outcome = outcomeOf(layout, stepped)
          if (outcome._tag === "Updated" || outcome.applied) optimizer.step += 1
          return outcome
        })
    } satisfies RanksShape
  }).pipe(Effect.provide(NodeWorker.layer(spawnRankThread)))
