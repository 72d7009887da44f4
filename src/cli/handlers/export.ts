import { Console, Effect, FileSystem, Result, Schema } from "effect"
import { randomBytes } from "node:crypto"
import * as NodePath from "node:path"
import { type ExportDType, exportWeights, refuseExportIntoCheckpoint } from "../../checkpoint/export.ts"
import { withCheckpoint } from "../../sample/target.ts"
import type { OnProgress } from "../../tensor/progress.ts"
import { sizeOf } from "../../tensor/tensor.ts"
import { makeTaskProgress } from "../progress.ts"

export interface ExportArgs {
  /** A checkpoint directory, or a run directory (its latest valid checkpoint). */
  readonly dir: string
  readonly out: string
  readonly dtype: ExportDType
  /** Told how far reading, verifying, encoding and writing are. */
  readonly onProgress?: OnProgress | undefined
}

export interface ExportResult {
  readonly location: string
  readonly step: number
  readonly out: string
  readonly dtype: ExportDType
  readonly tensors: number
  readonly parameters: number
  readonly bytes: number
}

/** The weights could not be encoded or the output file could not be written. */
export class ExportFailed extends Schema.TaggedError<ExportFailed>()("ExportFailed", {
  path: Schema.String,
  detail: Schema.String
}) {
  override get message(): string {
    return `cannot export to ${this.path}: ${this.detail}`
  }
}

/**
 * Writes `bytes` to `path` so that `path` holds either its old content or all of the new: a
 * temporary file in the same directory is written, flushed and renamed over it.
 */
export const writeFileAtomic = Effect.fnUntraced(function*(
  path: string,
  bytes: Uint8Array
): Effect.fn.Return<void, ExportFailed, FileSystem.FileSystem> {
  const fs = yield* FileSystem.FileSystem
  const temp = NodePath.join(
    NodePath.dirname(path),
    `.${NodePath.basename(path)}.tmp-${randomBytes(6).toString("hex")}`
  )
  const failed = (step: string) => (e: { readonly message: string }) =>
    new ExportFailed({ path, detail: `${step}: ${e.message}` })
  yield* Effect.scoped(Effect.gen(function*() {
    const file = yield* fs.open(temp, { flag: "wx" })
    yield* file.writeAll(bytes)
    yield* file.sync
  })).pipe(
    Effect.mapError(failed("write")),
    Effect.andThen(fs.rename(temp, path).pipe(Effect.mapError(failed("rename")))),
    Effect.onError(() => Effect.ignore(fs.remove(temp)))
  )
  // The rename itself is durable once the directory is flushed (not possible on Windows).
  if (process.platform !== "win32") {
    yield* Effect.scoped(Effect.flatMap(fs.open(NodePath.dirname(path), { flag: "r" }), (dir) => dir.sync)).pipe(
      Effect.mapError(failed("fsync directory"))
    )
  }
})

const exportFrom = (args: ExportArgs) =>
  Effect.scoped(withCheckpoint(args.dir, 0, (store, step) =>
    Effect.gen(function*() {
      const report = args.onProgress
      const checkpoint = yield* store.load(step, { components: ["model"], onProgress: report })
      const tensors = checkpoint.tensors.model
      const count = Object.keys(tensors).length
      report?.({ task: `encode ${count} tensors as ${args.dtype}`, done: 0, total: count, unit: "items" })
      const encoded = exportWeights(tensors, args.dtype)
      if (Result.isFailure(encoded)) return yield* new ExportFailed({ path: args.out, detail: encoded.failure.message })
      report?.({ task: `encode ${count} tensors as ${args.dtype}`, done: count, total: count, unit: "items" })
      const size = encoded.success.length
      report?.({ task: `write ${args.out}`, done: 0, total: size, unit: "bytes" })
      yield* writeFileAtomic(args.out, encoded.success)
      report?.({ task: `write ${args.out}`, done: size, total: size, unit: "bytes" })
      return {
        location: checkpoint.location,
        step,
        out: args.out,
        dtype: args.dtype,
        tensors: Object.keys(tensors).length,
        parameters: Object.values(tensors).reduce((n, t) => n + sizeOf(t.shape), 0),
        bytes: encoded.success.length
      } satisfies ExportResult
    })))

/**
 * Reads (and verifies) a checkpoint's model weights and writes them as one safetensors file. An
 * output inside a checkpoint directory is refused first: nothing is read or written.
 */
export const exportCheckpoint = (args: ExportArgs) =>
  Effect.andThen(
    refuseExportIntoCheckpoint(args.out).pipe(
      Effect.catchTag("PlatformError", (e) => Effect.fail(new ExportFailed({ path: args.out, detail: e.message })))
    ),
    exportFrom(args)
  )

/** `continuum export`. */
export const exportWeightsFile = (args: ExportArgs) =>
  Effect.gen(function*() {
    const progress = makeTaskProgress()
    const r = yield* exportCheckpoint({ ...args, onProgress: progress.report }).pipe(
      Effect.ensuring(Effect.sync(progress.finish))
    )
    yield* Console.log(
      `exported ${r.tensors} tensors (${r.parameters.toLocaleString("en-US")} parameters) of step ${r.step} ` +
        `(${r.location}) as ${r.dtype} to ${r.out} (${r.bytes.toLocaleString("en-US")} bytes)`
    )
  })
