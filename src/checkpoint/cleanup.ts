/**
 * Removing checkpoints: one step, what the retention rules do not keep, and the leftovers of
 * interrupted saves and deletes. None of these take the store's lock; the store does.
 */
import { Effect } from "effect"
import * as NodePath from "node:path"
import { type CheckpointIoError, CheckpointNotFound } from "./errors.ts"
import { parseReplacedDirName, REPLACED_PREFIX, stepDirName, TEMP_PREFIX } from "./layout.ts"
import { verifyCheckpoint } from "./readCheckpoint.ts"
import { latestToKeep, planRetention, type RetentionCandidate, type RetentionOptions } from "./retention.ts"
import { listCheckpoints } from "./scan.ts"
import { randomId, type ReadContext, stepLocation, type StoreContext } from "./storeContext.ts"
import type { CleanReport, RetainReport } from "./storeTypes.ts"

export const removeStep = (
  context: StoreContext,
  step: number
): Effect.Effect<void, CheckpointNotFound | CheckpointIoError> =>
  Effect.gen(function*() {
    const { disk, root } = context
    const location = stepLocation(context, step)
    context.written.delete(step)
    const info = yield* disk.stat(location)
    if (info === undefined || info.kind !== "Directory") return yield* new CheckpointNotFound({ step, location })
    // Renamed away first, so a crash mid-removal never leaves a half-deleted checkpoint.
    const doomed = NodePath.join(root, `${TEMP_PREFIX}delete-${stepDirName(step)}-${randomId()}`)
    yield* disk.rename(location, doomed)
    yield* disk.removeDirectory(doomed)
  })

/** Deletes what the retention rules do not keep (see `planRetention`). */
export const retainCheckpoints = (
  context: ReadContext,
  options: RetentionOptions,
  remove: (step: number) => Effect.Effect<void, CheckpointNotFound | CheckpointIoError>
): Effect.Effect<RetainReport, CheckpointIoError> =>
  Effect.gen(function*() {
    // Verify newest first only until enough valid checkpoints are found; older ones are
    // decided by step alone.
    const wanted = latestToKeep(options)
    const candidates: Array<RetentionCandidate> = []
    let validFound = 0
    for (const { step } of yield* listCheckpoints(context)) {
      if (validFound >= wanted) {
        candidates.push({ step, valid: undefined })
        continue
      }
      if (context.written.has(step)) {
        validFound += 1
        candidates.push({ step, valid: true })
        continue
      }
      const report = yield* verifyCheckpoint(context, step).pipe(
        Effect.catchTag("CheckpointNotFound", () => Effect.succeed(undefined))
      )
      if (report === undefined) continue
      const valid = report.problems.length === 0
      if (valid) validFound += 1
      candidates.push({ step, valid })
    }
    const plan = planRetention(candidates, options)
    for (const step of plan.remove) {
      yield* remove(step).pipe(Effect.catchTag("CheckpointNotFound", () => Effect.void))
    }
    return { kept: plan.keep, deleted: plan.remove } satisfies RetainReport
  })

/**
 * Removes temporary directories and puts back a checkpoint that a replacing save had moved aside
 * when it was cut off before the new one took its place.
 */
export const cleanTemp = (context: StoreContext): Effect.Effect<CleanReport, CheckpointIoError> =>
  Effect.gen(function*() {
    const { disk, root } = context
    const names = yield* disk.listDirectories(root)
    const removed: Array<string> = []
    const restored: Array<number> = []
    for (const name of names) {
      if (name.startsWith(TEMP_PREFIX)) {
        yield* disk.removeDirectory(NodePath.join(root, name))
        removed.push(name)
      } else if (name.startsWith(REPLACED_PREFIX)) {
        const step = parseReplacedDirName(name)
        const path = NodePath.join(root, name)
        if (step !== undefined && (yield* disk.stat(stepLocation(context, step))) === undefined) {
          yield* disk.rename(path, stepLocation(context, step))
          restored.push(step)
        } else {
          yield* disk.removeDirectory(path)
          removed.push(name)
        }
      }
    }
    return { removed, restored } satisfies CleanReport
  })
