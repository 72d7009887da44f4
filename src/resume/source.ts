import { Effect, FileSystem, Option, Schema } from "effect"
import * as NodePath from "node:path"
import {
  CheckpointStore,
  type CheckpointStoreShape,
  makeCheckpointStore,
  type ReadError
} from "../checkpoint/CheckpointStore.ts"
import { fileSystemDisk } from "../checkpoint/disk.ts"
import { locateCheckpointDir } from "../checkpoint/layout.ts"
import type { Manifest } from "../checkpoint/manifest.ts"
import { decodeSafetensors, readSafetensorsHeader, type SafetensorsError } from "../checkpoint/safetensors.ts"
import { readBoundedFile } from "../config/boundedRead.ts"
import { MemoryBudget } from "../config/MemoryBudget.ts"
import type { Tensor } from "../tensor/tensor.ts"
import type { PlanInput } from "./planner.ts"

/** The checkpoint or weights file a resume reads from could not be found or read. */
export class ResumeSourceError extends Schema.TaggedError<ResumeSourceError>()("ResumeSourceError", {
  source: Schema.String,
  message: Schema.String
}) {}

/** Why the tensors of an opened source cannot be read. */
export type SourceReadError = ReadError | SafetensorsError | ResumeSourceError

/** A resume source, opened: what the planner sees, and how to read its tensors afterwards. */
export interface OpenedSource {
  readonly input: PlanInput["source"]
  readonly manifest: Manifest | undefined
  readonly loadModel: Effect.Effect<Record<string, Tensor>, SourceReadError>
  readonly loadOptimizer: Effect.Effect<Record<string, Tensor>, SourceReadError>
}

const fromCheckpoint = (store: CheckpointStoreShape, step: number) =>
  Effect.gen(function*() {
    const report = yield* store.verify(step)
    const manifest = Option.getOrUndefined(report.manifest)
    if (manifest === undefined) {
      const problem = report.problems[0]
      return yield* new ResumeSourceError({
        source: report.location,
        message: `the checkpoint's manifest cannot be read${problem ? `: ${problem.file}: ${problem.detail}` : ""}`
      })
    }
    return {
      input: { kind: "checkpoint", location: report.location, manifest, problems: report.problems },
      manifest,
      loadModel: Effect.map(store.load(step, { components: ["model"] }), (c) => c.tensors.model),
      loadOptimizer: Effect.map(store.load(step, { components: ["optimizer"] }), (c) => c.tensors.optimizer)
    } satisfies OpenedSource
  })

/** The newest checkpoint of the run that verifies; corrupt newer ones are named and skipped. */
export const latestCheckpoint = (store: CheckpointStoreShape) =>
  Effect.gen(function*() {
    const { latest, skipped } = yield* store.latestValid
    for (const bad of skipped) {
      const problem = bad.problems[0]
      yield* Effect.logWarning(
        `skipping corrupt checkpoint ${bad.location}: ${problem ? `${problem.file}: ${problem.detail}` : "invalid"}`
      )
    }
    return { latest: Option.getOrUndefined(latest), skipped }
  })

/**
 * Opens `--from` (a checkpoint directory or a .safetensors weights file), or without it the
 * latest valid checkpoint of the run's own store.
 */
export const openSource = (from: string | undefined) =>
  Effect.gen(function*() {
    const store = yield* CheckpointStore
    if (from === undefined) {
      const { latest, skipped } = yield* latestCheckpoint(store)
      if (latest === undefined) {
        const why = skipped.length > 0
          ? ` (${skipped.length} corrupt: ${skipped.map((s) => s.location).join(", ")})`
          : ""
        return yield* new ResumeSourceError({
          source: store.location,
          message: `no valid checkpoint to resume from${why}`
        })
      }
      return yield* fromCheckpoint(store, latest.step)
    }
    const fs = yield* FileSystem.FileSystem
    if (from.endsWith(".safetensors")) {
      // Bounded by the memory budget: the weights must fit in memory anyway, and a link to a
      // device or a FIFO named *.safetensors must not hang the start.
      const budget = yield* MemoryBudget
      const bytes = yield* readBoundedFile(from, budget.bytes).pipe(
        Effect.mapError((e) => new ResumeSourceError({ source: from, message: `weights file ${e.sentence}` }))
      )
      const header = yield* Effect.fromResult(readSafetensorsHeader(bytes, { file: from }))
      const shapes = Object.fromEntries(header.entries.map((e) => [e.name, e.shape]))
      return {
        input: { kind: "weights", file: from, shapes },
        manifest: undefined,
        loadModel: Effect.map(Effect.fromResult(decodeSafetensors(bytes, { file: from })), (d) => d.tensors),
        loadOptimizer: Effect.fail(
          new ResumeSourceError({ source: from, message: "a weights file holds no optimizer state" })
        )
      } satisfies OpenedSource
    }
    const located = locateCheckpointDir(NodePath.resolve(from))
    if (located === undefined) {
      return yield* new ResumeSourceError({
        source: from,
        message: "expected a checkpoint directory (…/checkpoints/step-NNNNNNNN) or a .safetensors file"
      })
    }
    // Another run's checkpoints are opened read-only: never clean up after a run we do not own.
    const source = NodePath.resolve(located.runDir) === NodePath.resolve(NodePath.dirname(store.location))
      ? store
      : yield* makeCheckpointStore(fileSystemDisk(fs), located.runDir, { cleanOnStart: false })
    return yield* fromCheckpoint(source, located.step)
  })
