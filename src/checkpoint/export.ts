/**
 * Model weights as a standalone safetensors file for other tools (PyTorch, transformers).
 * Narrower dtypes round to nearest even, as `tensor.half()` / `tensor.bfloat16()` do.
 */
import { Effect, FileSystem, Option, type PlatformError, type Result, Schema } from "effect"
import * as NodePath from "node:path"
import type { Tensor } from "../tensor/tensor.ts"
import { CHECKPOINTS_DIR, locateCheckpointDir, REPLACED_PREFIX, TEMP_PREFIX } from "./layout.ts"
import { MANIFEST_FILE } from "./manifest.ts"
import { encodeSafetensors, type SafetensorsDType, type SafetensorsError } from "./safetensors.ts"

export type ExportDType = "f32" | "f16" | "bf16"

const storedDType: Record<ExportDType, SafetensorsDType> = { f32: "F32", f16: "F16", bf16: "BF16" }

/**
 * Encodes model weights in the given dtype. The `format: "pt"` metadata is what transformers'
 * loaders expect of a PyTorch-style file. Fails only for names or shapes the format rejects.
 */
export const exportWeights = (
  tensors: Readonly<Record<string, Tensor>>,
  dtype: ExportDType
): Result.Result<Uint8Array, SafetensorsError> =>
  encodeSafetensors(tensors, { dtype: storedDType[dtype], metadata: { format: "pt" }, file: `weights (${dtype})` })

/** An export's output path lies inside a checkpoint directory, whose files it would replace or add to. */
export class ExportIntoCheckpoint extends Schema.TaggedError<ExportIntoCheckpoint>()("ExportIntoCheckpoint", {
  path: Schema.String,
  checkpoint: Schema.String
}) {
  override get message(): string {
    return `cannot export to ${this.path}: it lies in the checkpoint directory ${this.checkpoint}, ` +
      `which the export would damage; choose a path outside every checkpoint directory`
  }
}

/**
 * A checkpoint directory, by its place in the layout (`…/checkpoints/step-N`, or a save in progress
 * or being replaced there) or by what makes a directory a checkpoint: its manifest, so that a
 * checkpoint copied elsewhere is recognised too.
 */
const isCheckpointDirectory = (fs: FileSystem.FileSystem, dir: string): Effect.Effect<boolean> => {
  const name = NodePath.basename(dir)
  const inStore = NodePath.basename(NodePath.dirname(dir)) === CHECKPOINTS_DIR &&
    (name.startsWith(`${TEMP_PREFIX}step-`) || name.startsWith(`${REPLACED_PREFIX}step-`))
  if (locateCheckpointDir(dir) !== undefined || inStore) return Effect.succeed(true)
  return fs.exists(NodePath.join(dir, MANIFEST_FILE)).pipe(Effect.orElseSucceed(() => false))
}

/** `path` with symbolic links resolved as far as it exists; the part that does not exist is appended. */
const realLocation = (
  fs: FileSystem.FileSystem,
  path: string
): Effect.Effect<string, PlatformError.PlatformError> =>
  fs.realPath(path).pipe(
    Effect.catchIf(
      (e) => e.reason._tag === "NotFound" && NodePath.dirname(path) !== path,
      () => Effect.map(realLocation(fs, NodePath.dirname(path)), (dir) => NodePath.join(dir, NodePath.basename(path)))
    )
  )

/** The innermost checkpoint directory that holds `path` (or is it), if any. */
const enclosingCheckpoint = (fs: FileSystem.FileSystem, path: string): Effect.Effect<Option.Option<string>> =>
  Effect.gen(function*() {
    for (let dir = path;; dir = NodePath.dirname(dir)) {
      if (yield* isCheckpointDirectory(fs, dir)) return Option.some(dir)
      if (NodePath.dirname(dir) === dir) return Option.none()
    }
  })

/**
 * Refuses an output path inside any checkpoint directory, before anything is read or written. Both
 * places a write to `out` can reach are checked with symbolic links resolved: the directory entry
 * it replaces and, when `out` exists, the file it points to.
 */
export const refuseExportIntoCheckpoint = Effect.fnUntraced(function*(
  out: string
): Effect.fn.Return<void, ExportIntoCheckpoint | PlatformError.PlatformError, FileSystem.FileSystem> {
  const fs = yield* FileSystem.FileSystem
  const absolute = NodePath.resolve(out)
  const entry = NodePath.join(yield* realLocation(fs, NodePath.dirname(absolute)), NodePath.basename(absolute))
  const target = yield* realLocation(fs, absolute)
  for (const location of new Set([entry, target])) {
    const checkpoint = yield* enclosingCheckpoint(fs, location)
    if (Option.isSome(checkpoint)) return yield* new ExportIntoCheckpoint({ path: out, checkpoint: checkpoint.value })
  }
})
