import { Effect, Option, Schema } from "effect"
import { isStoreAt, locateCheckpoint } from "../checkpoint/address.ts"
import {
  CheckpointStore,
  type CheckpointStoreShape,
  openCheckpointStore,
  type ReadError,
  type VerifyReport
} from "../checkpoint/CheckpointStore.ts"
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

/** A checkpoint that verified (its report carries the manifest), opened as a resume source. */
export const checkpointSource = (
  store: CheckpointStoreShape,
  report: VerifyReport & { readonly manifest: Option.Some<Manifest> }
): OpenedSource => ({
  input: { kind: "checkpoint", location: report.location, manifest: report.manifest.value, problems: report.problems },
  manifest: report.manifest.value,
  loadModel: Effect.map(store.load(report.step, { components: ["model"] }), (c) => c.tensors.model),
  loadOptimizer: Effect.map(store.load(report.step, { components: ["optimizer"] }), (c) => c.tensors.optimizer)
})

/** A report whose manifest could be read. */
export const hasManifest = (
  report: VerifyReport
): report is VerifyReport & { readonly manifest: Option.Some<Manifest> } => Option.isSome(report.manifest)

const fromCheckpoint = (store: CheckpointStoreShape, step: number) =>
  Effect.gen(function*() {
    const report = yield* store.verify(step)
    if (!hasManifest(report)) {
      const problem = report.problems[0]
      return yield* new ResumeSourceError({
        source: report.location,
        message: `the checkpoint's manifest cannot be read${problem ? `: ${problem.file}: ${problem.detail}` : ""}`
      })
    }
    return checkpointSource(store, report)
  })

/**
 * Opens `--from`: a checkpoint directory (local or `s3://bucket/prefix/step-N`) or a .safetensors
 * weights file. Without `--from` a resume
 * searches the run's own checkpoints instead (usableCheckpoint.ts).
 */
export const openSource = (from: string) =>
  Effect.gen(function*() {
    const store = yield* CheckpointStore
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
    const located = locateCheckpoint(from)
    if (located === undefined) {
      return yield* new ResumeSourceError({
        source: from,
        message: "expected a checkpoint directory (…/checkpoints/step-NNNNNNNN or s3://bucket/prefix/step-NNNNNNNN) " +
          "or a .safetensors file"
      })
    }
    // Another run's checkpoints are opened read-only: never clean up after a run we do not own.
    const source = isStoreAt(located, store.location)
      ? store
      : yield* openCheckpointStore(located.runDir, located.location, { cleanOnStart: false })
    return yield* fromCheckpoint(source, located.step)
  })
