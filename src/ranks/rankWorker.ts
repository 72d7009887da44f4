/**
 * A rank's thread: it answers the run's `Setup` by building its own kernels, model and update rule
 * over the shared memory, then each `Step` by computing its part of the update (`rankStep.ts`).
 * An exception fails the step: the rank raises the abort flag, so that the other ranks stop
 * waiting for it, and reports the reason; the run then stops with a typed error.
 */
import { NodeRuntime, NodeWorkerRunner } from "@effect/platform-node"
import { Effect } from "effect"
import { WorkerRunnerPlatform } from "effect/workers/WorkerRunner"
import { makeCpuKernels } from "../kernels/cpu/index.ts"
import { makeWasmStorage } from "../kernels/cpu/wasm/storage.ts"
import { modelFromConfig } from "../model/fromConfig.ts"
import { ruleFor } from "../optim/OptimizerService.ts"
import { abortRanks, makeBarrier, RankAborted } from "./barrier.ts"
import { injectedFault } from "./fault.ts"
import { decodeRequest, encodeReply, type RankReply, type RankRequest, type Setup } from "./protocol.ts"
import { makeRankStep, type RankStepReport } from "./rankStep.ts"
import { viewsOf } from "./sharedMemory.ts"

interface RankState {
  readonly rank: number
  readonly control: Int32Array
  readonly step: (lr: number, optimizerStep: number) => RankStepReport
}

const reasonOf = (error: unknown): string => (error instanceof Error ? error.message : String(error))

const program = Effect.gen(function*() {
  const runner = yield* (yield* WorkerRunnerPlatform).start<unknown, unknown>()
  let state: RankState | undefined

  const setup = (request: typeof Setup.Type): RankState => {
    const { rank, config, layout, buffers } = request
    // The rank's kernels work in the run's memory, on the parameters and its gradient slot in place.
    const storage = makeWasmStorage(buffers.memory)
    const views = viewsOf(layout, buffers, storage)
    const step = makeRankStep({
      rank,
      layout,
      views,
      barrier: makeBarrier(views.control, layout.ranks),
      kernels: makeCpuKernels(storage),
      model: modelFromConfig(config.model),
      rule: ruleFor(config.optimizer),
      micro: config.batch.micro,
      clipNorm: config.optimizer.clipNorm
    })
    return { rank, control: views.control, step }
  }

  const answer = (request: RankRequest): RankReply => {
    if (request._tag === "Setup") {
      state = setup(request)
      return { _tag: "Ready", rank: state.rank }
    }
    const rank = state!
    injectedFault(rank.rank, request.update)
    return { _tag: "Stepped", rank: rank.rank, ...rank.step(request.lr, request.optimizerStep) }
  }

  const reply = (raw: unknown): RankReply => {
    const request = decodeRequest(raw)
    try {
      return answer(request)
    } catch (error) {
      const rank = request._tag === "Setup" ? request.rank : state!.rank
      if (error instanceof RankAborted) return { _tag: "Aborted", rank }
      if (state !== undefined) abortRanks(state.control)
      return { _tag: "Failed", rank, update: request._tag === "Step" ? request.update : 0, reason: reasonOf(error) }
    }
  }

  yield* runner.run<void, never, never>((port, raw) => {
    runner.sendUnsafe(port, encodeReply(reply(raw)))
  })
})

NodeRuntime.runMain(program.pipe(Effect.provide(NodeWorkerRunner.layer)))
