/**
 * Finding checkpoints: the step directories under the store's root, and the newest of them that
 * verifies. Temporary and displaced directories never count.
 */
import { Effect, Option } from "effect"
import type { CheckpointIoError } from "./errors.ts"
import { joinLocation, parseStepDirName } from "./layout.ts"
import { MANIFEST_FILE } from "./manifest.ts"
import { verifyCheckpoint } from "./readCheckpoint.ts"
import { type ReadContext, stepLocation } from "./storeContext.ts"
import type { CheckpointListing, LatestValid, VerifyReport } from "./storeTypes.ts"

/** Step directories, newest first. */
export const listCheckpoints = (
  context: ReadContext
): Effect.Effect<ReadonlyArray<CheckpointListing>, CheckpointIoError> =>
  Effect.gen(function*() {
    const names = yield* context.disk.listDirectories(context.root)
    const listings: Array<CheckpointListing> = []
    for (const name of names) {
      const step = parseStepDirName(name)
      if (step === undefined) continue
      const location = stepLocation(context, step)
      const manifest = yield* context.disk.stat(joinLocation(location, MANIFEST_FILE))
      listings.push({ step, location, hasManifest: manifest !== undefined })
    }
    return listings.sort((a, b) => b.step - a.step)
  })

/** Verifies newest first and stops at the first checkpoint that verifies. */
export const findLatestValid = (context: ReadContext): Effect.Effect<LatestValid, CheckpointIoError> =>
  Effect.gen(function*() {
    const skipped: Array<VerifyReport> = []
    for (const { step, location } of yield* listCheckpoints(context)) {
      const report = yield* verifyCheckpoint(context, step).pipe(
        // A directory removed between listing and verifying is simply no longer a candidate.
        Effect.catchTag("CheckpointNotFound", () => Effect.succeed(undefined))
      )
      if (report === undefined) continue
      if (report.problems.length === 0 && Option.isSome(report.manifest)) {
        return {
          latest: Option.some({ step, location, manifest: report.manifest.value }),
          skipped
        } satisfies LatestValid
      }
      skipped.push(report)
    }
    return { latest: Option.none(), skipped } satisfies LatestValid
  })
