/**
 * Building the inspect report of a checkpoint or a run directory. Reading only: no file is
 * written or cleaned, so it is safe while the run is training.
 */
import { Effect, Option, Result } from "effect"
import type { CheckpointStoreShape } from "../checkpoint/CheckpointStore.ts"
import { stepDirName } from "../checkpoint/layout.ts"
import { openReadOnlyStore, resolveTarget } from "../sample/target.ts"
import type { OnProgress } from "../tensor/progress.ts"
import type { CheckpointReport, RunCheckpointEntry, RunReport } from "./InspectReport.ts"
import { manifestReport } from "./manifest.ts"

/** What to inspect, and whether to verify it. */
export interface InspectOptions {
  /** A checkpoint directory or a run directory. */
  readonly dir: string
  /** Check sizes and sha256 of every file; the command fails when a check fails. */
  readonly verify: boolean
  /** Told how far verification is, file by file (hashing a large checkpoint takes a while). */
  readonly onProgress?: OnProgress | undefined
}

/** One checkpoint in detail; with `verify`, every file is checked and the problems are listed. */
export const checkpointReport = (
  store: CheckpointStoreShape,
  step: number,
  verify: boolean,
  onProgress?: OnProgress
) =>
  Effect.gen(function*() {
    if (verify) {
      const report = yield* store.verify(step, { onProgress })
      const verification = { ok: report.problems.length === 0, problems: report.problems }
      if (Option.isNone(report.manifest)) {
        return { kind: "checkpoint", location: report.location, step, verification } satisfies CheckpointReport
      }
      return {
        kind: "checkpoint",
        location: report.location,
        step,
        verification,
        manifest: yield* manifestReport(store, report.location, report.manifest.value)
      } satisfies CheckpointReport
    }
    const ref = yield* store.manifest(step)
    return {
      kind: "checkpoint",
      location: ref.location,
      step,
      manifest: yield* manifestReport(store, ref.location, ref.manifest)
    } satisfies CheckpointReport
  })

/** Whether the step's directory is still listed: retention may delete it while it is read. */
const stillListed = (store: CheckpointStoreShape, step: number) =>
  Effect.map(store.list, (listing) => listing.some((c) => c.step === step))

/**
 * A run's checkpoints, newest first, and the latest one in detail. The run may be training while
 * it is read: a checkpoint that retention deletes meanwhile is left out and named in `vanished`,
 * never reported as a failed check (files missing from a directory that is gone are not damage).
 */
export const runReport = (store: CheckpointStoreShape, runDir: string, verify: boolean, onProgress?: OnProgress) =>
  Effect.gen(function*() {
    const listing = yield* store.list
    const checkpoints: Array<RunCheckpointEntry> = []
    const vanished: Array<number> = []
    for (const { step, location, hasManifest } of listing) {
      if (!verify) {
        checkpoints.push({ step, location, hasManifest })
        continue
      }
      const report = yield* Effect.result(store.verify(step, { onProgress }))
      if (Result.isFailure(report) && report.failure._tag === "CheckpointNotFound") {
        vanished.push(step)
        continue
      }
      if (Result.isFailure(report)) return yield* report.failure
      const { problems } = report.success
      if (problems.length > 0 && !(yield* stillListed(store, step))) {
        vanished.push(step)
        continue
      }
      checkpoints.push({ step, location, hasManifest, verification: { ok: problems.length === 0, problems } })
    }
    const gone = () =>
      vanished.length === 0 ? {} : {
        vanished: vanished.map((step) => `${stepDirName(step)} vanished while reading (retention)`)
      }
    const base = { kind: "run", runDir, checkpointsDir: store.location, checkpoints } as const
    if (checkpoints.length === 0) {
      return { ...base, ...gone(), note: `no checkpoints in ${store.location}` } satisfies RunReport
    }

    const skipped: Array<string> = []
    for (const entry of checkpoints) {
      const usable = verify ? entry.verification!.ok : entry.hasManifest
      if (usable) {
        const latest = yield* Effect.result(checkpointReport(store, entry.step, verify, onProgress))
        const lost = Result.isFailure(latest)
          ? latest.failure._tag === "CheckpointNotFound"
          : latest.success.verification?.ok === false && !(yield* stillListed(store, entry.step))
        if (lost) {
          vanished.push(entry.step)
          continue
        }
        if (Result.isSuccess(latest)) {
          const note = skipped.length === 0 ? undefined : `newer checkpoint(s) skipped: ${skipped.join(", ")}`
          return {
            ...base,
            ...gone(),
            latest: latest.success,
            ...(note === undefined ? {} : { note })
          } satisfies RunReport
        }
        if (latest.failure._tag === "CheckpointIoError") return yield* latest.failure
        skipped.push(`${stepDirName(entry.step)} (${latest.failure.message})`)
      } else {
        skipped.push(`${stepDirName(entry.step)} (${verify ? "fails verification" : "no manifest"})`)
      }
    }
    return {
      ...base,
      ...gone(),
      note: `no ${verify ? "valid" : "readable"} checkpoint; skipped: ${skipped.join(", ")}`
    } satisfies RunReport
  })

/** The report for `args.dir`: a checkpoint or a run directory, or the same in an object store. */
export const inspectReport = (args: InspectOptions) =>
  Effect.scoped(Effect.gen(function*() {
    const target = yield* resolveTarget(args.dir)
    const store = yield* openReadOnlyStore(target.runDir, target.location)
    return target.kind === "checkpoint"
      ? yield* checkpointReport(store, target.step, args.verify, args.onProgress)
      : yield* runReport(store, target.runDir, args.verify, args.onProgress)
  }))
