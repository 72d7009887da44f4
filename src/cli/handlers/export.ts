import { Console, Effect, FileSystem, Result, Schema } from "effect"
import { randomBytes } from "node:crypto"
import * as NodePath from "node:path"
import { type ExportDType, exportWeights } from "../../checkpoint/export.ts"
import { withCheckpoint } from "../../sample/target.ts"
import { sizeOf } from "../../tensor/tensor.ts"

export interface ExportArgs {
  /** A checkpoint directory, or a run directory (its latest valid checkpoint). */
  readonly dir: string
  readonly out: string
  readonly dtype: ExportDType
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

/** Reads (and verifies) a checkpoint's model weights and writes them as one safetensors file. */
export const exportCheckpoint = (args: ExportArgs) =>
  Effect.scoped(withCheckpoint(args.dir, 0, (store, step) =>
    Effect.gen(function*() {
      const checkpoint = yield* store.load(step, { components: ["model"] })
      const tensors = checkpoint.tensors.model
      const encoded = exportWeights(tensors, args.dtype)
      if (Result.isFailure(encoded)) return yield* new ExportFailed({ path: args.out, detail: encoded.failure.message })
      yield* writeFileAtomic(args.out, encoded.success)
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

/** `continuum export`. */
export const exportWeightsFile = (args: ExportArgs) =>
  Effect.gen(function*() {
    const r = yield* exportCheckpoint(args)
    yield* Console.log(
      `exported ${r.tensors} tensors (${r.parameters.toLocaleString("en-US")} parameters) of step ${r.step} ` +
        `(${r.location}) as ${r.dtype} to ${r.out} (${r.bytes.toLocaleString("en-US")} bytes)`
    )
  })
