/**
 * Branching a run at a checkpoint into a new run directory. The branch resumes from the parent's
 * checkpoint (its manifest records the parent as lineage); its metrics file starts with the
 * parent's history up to the branch step, so each run directory charts its whole trajectory.
 */
import { Effect, FileSystem } from "effect"
import { lineKey, metricsFile } from "../train/metricsLine.ts"
import { DemoError } from "./DemoError.ts"

/**
 * The lines of a metrics file that describe the trajectory up to step `k`: steps and evaluations
 * at or before `k`, and resume markers before `k`. A marker at `k` belongs to the parent's own
 * resume from that checkpoint, not to the branch (which writes its own).
 */
export const historyUpTo = (text: string, k: number): string =>
  text.split("\n").filter((line) => {
    const key = lineKey(line)
    if (key === undefined) return false // empty, or torn by a crash
    return key.resume ? key.step < k : key.step <= k
  }).map((line) => `${line}\n`).join("")

/** Starts `childDir`'s metrics file with `parentDir`'s history up to step `k`. */
export const forkMetrics = (parentDir: string, childDir: string, k: number) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const fail = (reason: string) => new DemoError({ variant: "fork", reason })
    const text = yield* fs.readFileString(metricsFile(parentDir)).pipe(
      Effect.mapError((e) => fail(`cannot read ${metricsFile(parentDir)}: ${e.message}`))
    )
    yield* fs.makeDirectory(childDir, { recursive: true }).pipe(
      Effect.mapError((e) => fail(`cannot create ${childDir}: ${e.message}`))
    )
    yield* fs.writeFileString(metricsFile(childDir), historyUpTo(text, k)).pipe(
      Effect.mapError((e) => fail(`cannot write ${metricsFile(childDir)}: ${e.message}`))
    )
  })
