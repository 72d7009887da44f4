/**
 * What a run left on disk, read back for comparison: its checkpoints (through a store that
 * cleans nothing) and its metrics file.
 */
import { Effect, FileSystem, Schema } from "effect"
import * as nodeFs from "node:fs"
import { CheckpointState } from "../checkpoint/checkpointState.ts"
import { makeCheckpointStore } from "../checkpoint/CheckpointStore.ts"
import { fileSystemDisk } from "../checkpoint/disk.ts"
import { metricsFile } from "../train/metricsLine.ts"
import { ResumeRunFailed } from "./errors.ts"
import type { RunName } from "./runs.ts"

/** A read-only view of a run's checkpoints. */
const openStore = (runDir: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    return yield* makeCheckpointStore(fileSystemDisk(fs), runDir, { cleanOnStart: false })
  })

/** One checkpoint of a run: manifest, decoded state, model and optimizer tensors. */
export const readCheckpoint = (runDir: string, step: number, run: RunName, label: number | null) =>
  Effect.scoped(Effect.gen(function*() {
    const store = yield* openStore(runDir)
    const loaded = yield* store.load(step)
    const state = yield* Schema.decodeUnknownEffect(CheckpointState)(loaded.manifest.state)
    return { manifest: loaded.manifest, state, model: loaded.tensors.model, optimizer: loaded.tensors.optimizer }
  })).pipe(Effect.mapError((error) => new ResumeRunFailed({ run, stopAt: label, error })))

export type StoredCheckpoint = Effect.Success<ReturnType<typeof readCheckpoint>>

/** The state of every checkpoint of a run, by step. */
export const checkpointStates = (runDir: string, run: RunName, label: number | null) =>
  Effect.scoped(Effect.gen(function*() {
    const store = yield* openStore(runDir)
    const out: Array<CheckpointState> = []
    for (const listing of yield* store.list) {
      if (!listing.hasManifest) continue
      const ref = yield* store.manifest(listing.step)
      out.push(yield* Schema.decodeUnknownEffect(CheckpointState)(ref.manifest.state))
    }
    return out.sort((a, b) => a.step - b.step)
  })).pipe(Effect.mapError((error) => new ResumeRunFailed({ run, stopAt: label, error })))

/** A run's metrics.jsonl records: the resume markers, and the rest as compared. */
export interface MetricsRecords {
  readonly markers: ReadonlyArray<Record<string, unknown>>
  readonly lines: ReadonlyArray<Record<string, unknown>>
}

/** metrics.jsonl as compared: resume markers, wall-clock throughput and the number of ranks dropped. */
export const metricsLines = (runDir: string, withEval: boolean): Effect.Effect<MetricsRecords> =>
  Effect.sync(() => {
    const file = metricsFile(runDir)
    const records = nodeFs.existsSync(file)
      ? nodeFs.readFileSync(file, "utf8").split("\n").filter((l) => l.trim() !== "").map((l) =>
        JSON.parse(l) as Record<string, unknown>
      )
      : []
    const markers = records.filter((r) => "resume" in r)
    const lines = records
      .filter((r) => !("resume" in r) && (withEval || !("valLoss" in r)))
      .map(({ tokensPerSec: _t, ranks: _r, ...rest }) => rest)
    return { markers, lines }
  })
