/**
 * The memory a run may use, and the check that refuses a configuration needing more — or more
 * tensor memory than the cpu backend has, or a tensor larger than a typed array may index —
 * before anything is allocated.
 */
import { Context, Effect, Schema } from "effect"
import * as os from "node:os"
import { describeBytes } from "./boundedRead.ts"
import {
  CPU_TENSOR_MEMORY_BYTES,
  estimateParts,
  largestTensors,
  MAX_TENSOR_VALUES,
  type MemoryEstimate,
  tensorMemoryBytes
} from "./memoryEstimate.ts"
import type { RunConfig } from "./RunConfig.ts"

export interface MemoryBudgetShape {
  readonly bytes: number
  /** Where the limit comes from, for messages: "this machine has" or "--max-memory is". */
  readonly origin: "machine" | "flag"
}

/** The limit reads of weights and data derive from; the machine's memory unless the CLI sets it. */
export const MemoryBudget = Context.Reference<MemoryBudgetShape>("continuum/MemoryBudget", {
  defaultValue: () => ({ bytes: os.totalmem(), origin: "machine" })
})

/** The configuration needs more memory than the budget, or a tensor too large to index. */
export class RunTooLarge extends Schema.TaggedError<RunTooLarge>()("RunTooLarge", {
  fields: Schema.String,
  message: Schema.String
}) {}

/** `12.3 GiB` style rendering of an estimate's parts: `parameters 1.0 GiB, gradients 2.0 GiB, …`. */
export const describeEstimate = (estimate: MemoryEstimate): string =>
  `~${describeBytes(estimate.total)} (${
    estimateParts.map((part) => `${part === "optimizer" ? "optimizer state" : part} ${describeBytes(estimate[part])}`)
      .join(", ")
  })`

/** The size fields of a configuration, as `--set` paths with their values. */
const sizeFields = (config: RunConfig): ReadonlyArray<readonly [string, number]> => [
  ["model.vocabSize", config.model.vocabSize],
  ["model.dim", config.model.dim],
  ["model.layers", config.model.layers],
  ["model.heads", config.model.heads],
  ["model.ffnDim", config.model.ffnDim],
  ["model.seqLen", config.model.seqLen],
  ["batch.global", config.batch.global],
  ["batch.micro", config.batch.micro],
  ["eval.batches", config.eval.batches]
]

/**
 * The fields to blame for a run that is too large: those larger than in `reference` (the
 * reference configuration), with the verb that agrees with them.
 */
const blame = (config: RunConfig, reference: RunConfig): { readonly fields: string; readonly subject: string } => {
  const referenceValues = new Map(sizeFields(reference))
  const grown = sizeFields(config).filter(([path, value]) => value > referenceValues.get(path)!)
  if (grown.length === 0) return { fields: "(reference sizes)", subject: "the reference sizes need" }
  const fields = grown.map(([path, value]) => `${path} ${value}`).join(", ")
  return { fields, subject: `${fields} ${grown.length === 1 ? "needs" : "need"}` }
}

const budgetText = (budget: MemoryBudgetShape): string =>
  budget.origin === "machine"
    ? `this machine has ${describeBytes(budget.bytes)} (set --max-memory to change the limit)`
    : `--max-memory is ${describeBytes(budget.bytes)}`

/**
 * Refuses `config` when its estimate exceeds the budget or one of its tensors would hold more
 * than `MAX_TENSOR_VALUES`; `reference` is the reference configuration, to name what grew.
 */
export const checkRunSize = (
  config: RunConfig,
  estimate: MemoryEstimate,
  budget: MemoryBudgetShape,
  reference: RunConfig
): Effect.Effect<void, RunTooLarge> => {
  if (!(estimate.total <= budget.bytes)) {
    const { fields, subject } = blame(config, reference)
    return Effect.fail(
      new RunTooLarge({ fields, message: `${subject} ${describeEstimate(estimate)}; ${budgetText(budget)}` })
    )
  }
  const tooLarge = largestTensors(config).find((t) => t.values > MAX_TENSOR_VALUES)
  if (tooLarge !== undefined) {
    return Effect.fail(
      new RunTooLarge({
        fields: tooLarge.fields,
        message: `${tooLarge.fields}: ${tooLarge.tensor} would hold ${tooLarge.values} values, ` +
          `more than the ${MAX_TENSOR_VALUES} one tensor may hold`
      })
    )
  }
  if (config.kernels.backend === "cpu" && tensorMemoryBytes(estimate) > CPU_TENSOR_MEMORY_BYTES) {
    const { fields, subject } = blame(config, reference)
    return Effect.fail(
      new RunTooLarge({
        fields,
        message:
          `${subject} ~${describeBytes(tensorMemoryBytes(estimate))} of tensors; the cpu backend holds at most ` +
          `${describeBytes(CPU_TENSOR_MEMORY_BYTES)} (its WebAssembly memory)`
      })
    )
  }
  return Effect.void
}

const UNITS: Readonly<Record<string, number>> = {
  "": 1,
  b: 1,
  k: 1024,
  kb: 1000,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1000 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1000 ** 3,
  gib: 1024 ** 3,
  t: 1024 ** 4,
  tb: 1000 ** 4,
  tib: 1024 ** 4,
  p: 1024 ** 5,
  pb: 1000 ** 5,
  pib: 1024 ** 5
}

/** Parses `--max-memory`: bytes, or a number with a unit (`4GiB`, `512 MiB`, `2GB`); undefined when invalid. */
export const parseByteSize = (text: string): number | undefined => {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text)
  if (match === null) return undefined
  const unit = UNITS[match[2]!.toLowerCase()]
  if (unit === undefined) return undefined
  const bytes = Math.floor(Number(match[1]) * unit)
  return Number.isSafeInteger(bytes) && bytes > 0 ? bytes : undefined
}
