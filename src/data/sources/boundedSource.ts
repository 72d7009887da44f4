/** Reads of data-source files, bounded by the memory budget (`config/boundedRead.ts`). */
import { Effect, type FileSystem } from "effect"
import { describeType, readBoundedFile } from "../../config/boundedRead.ts"
import type { MemoryBudgetShape } from "../../config/MemoryBudget.ts"
import { MAX_TENSOR_VALUES } from "../../config/memoryEstimate.ts"
import { DataSourceNotFound, DataSourceUnreadable } from "../errors.ts"

/**
 * The most bytes a source may hold: no more than the memory budget, and no more than one token
 * array may index.
 */
export const sourceReadLimit = (budget: MemoryBudgetShape): number => Math.min(budget.bytes, MAX_TENSOR_VALUES)

/** A source path that is neither a regular file nor a directory. */
export const notRegular = (path: string, type: FileSystem.File.Type): DataSourceUnreadable =>
  new DataSourceUnreadable({ path, reason: `it is ${describeType(type)}, not a regular file or a directory` })

/** The bytes of one source file, refusing devices, FIFOs and files over `limit`. */
export const readSourceFile = (
  path: string,
  limit: number
): Effect.Effect<Uint8Array, DataSourceNotFound | DataSourceUnreadable, FileSystem.FileSystem> =>
  Effect.mapError(readBoundedFile(path, limit), (e) =>
    e.cause === "missing"
      ? new DataSourceNotFound({ path })
      : new DataSourceUnreadable({ path, reason: e.cause === "refused" ? `it ${e.reason}` : e.reason }))
