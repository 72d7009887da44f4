import { Effect, Schema } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"

/** The file given to `--json` cannot be written: its directory is missing, or it names a directory. */
export class BenchJsonTargetInvalid extends Schema.TaggedError<BenchJsonTargetInvalid>()("BenchJsonTargetInvalid", {
  file: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `--json ${this.file}: ${this.reason}`
  }
}

/** Refuses a `--json` file that could not be written, before anything is measured. */
export const checkJsonTarget = (file: string | undefined): Effect.Effect<void, BenchJsonTargetInvalid> =>
  Effect.suspend(() => {
    if (file === undefined) return Effect.void
    const dir = path.dirname(path.resolve(file))
    if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
      return Effect.fail(new BenchJsonTargetInvalid({ file, reason: `directory ${dir} does not exist` }))
    }
    if (fs.existsSync(file) && fs.statSync(file).isDirectory()) {
      return Effect.fail(new BenchJsonTargetInvalid({ file, reason: "is a directory" }))
    }
    return Effect.void
  })
