/**
 * The memory check `train` and `plan` run before anything is built: the budget from
 * `--max-memory` (or the machine's memory), the estimate from the decoded configuration and the
 * data source's size on disk, and the refusal when the run would not fit.
 */
import { Effect } from "effect"
import { availableParallelism } from "node:os"
import { ConfigError } from "../config/ConfigError.ts"
import { defaultRunConfig } from "../config/loadConfig.ts"
import { checkRunSize, MemoryBudget, type MemoryBudgetShape, parseByteSize } from "../config/MemoryBudget.ts"
import { estimateMemory } from "../config/memoryEstimate.ts"
import type { RunConfig } from "../config/RunConfig.ts"
import { resolveRanks } from "../data/geometry.ts"
import { sourceBytes } from "../data/sources/loadSource.ts"
import { duringSetup, type SetupFailed } from "./exitCodes.ts"

/** `--max-memory` when given, else the machine's memory (MemoryBudget's default). */
export const memoryBudgetOf = (maxMemory: string | undefined): Effect.Effect<MemoryBudgetShape, ConfigError> => {
  if (maxMemory === undefined) {
    return Effect.gen(function*() {
      return yield* MemoryBudget
    })
  }
  const bytes = parseByteSize(maxMemory)
  return bytes === undefined
    ? Effect.fail(
      new ConfigError({
        path: "--max-memory",
        value: maxMemory,
        reason: "expected a number of bytes, optionally with a unit (e.g. 4GiB, 512MiB, 2GB)"
      })
    )
    : Effect.succeed({ bytes, origin: "flag" })
}

/** The run's memory estimate, refused when it exceeds the budget in force. */
export const checkedEstimate = (config: RunConfig) =>
  Effect.gen(function*() {
    const budget = yield* MemoryBudget
    const ranks = resolveRanks(config.batch, availableParallelism())
    const estimate = estimateMemory(config, yield* sourceBytes(config.data.source), ranks)
    yield* checkRunSize(config, estimate, budget, defaultRunConfig())
    return estimate
  })

/**
 * Runs `effect` under the budget `--max-memory` gives (weights and data reads derive their limits
 * from it); a malformed `--max-memory` is a setup failure.
 */
export const withMemoryBudget =
  (maxMemory: string | undefined) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | SetupFailed<ConfigError>, R> =>
    Effect.flatMap(
      duringSetup(memoryBudgetOf(maxMemory)),
      (budget) => Effect.provideService(effect, MemoryBudget, budget)
    )
