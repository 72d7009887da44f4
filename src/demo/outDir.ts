/**
 * The demo's output directory. A rerun replaces what an earlier demo wrote there (and only that);
 * a directory holding anything else is refused, so `--out` can never wipe unrelated files.
 */
import { Effect, FileSystem } from "effect"
import * as path from "node:path"
import { DemoError } from "./DemoError.ts"

/** The file that marks a directory as the demo's output (also its machine-readable summary). */
export const DEMO_MARKER = "demo.json"

/** Every entry the demo writes into its output directory. */
export const DEMO_ENTRIES = [
  "baseline",
  "exact",
  "rebuild",
  "extend",
  "rejected",
  "report",
  "summary.txt",
  DEMO_MARKER
] as const

/** Makes `outDir` ready: created when absent, emptied of an earlier demo's output, else refused. */
export const prepareOutDir = (outDir: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const fail = (reason: string) => new DemoError({ variant: "out", reason })
    const io = <A, E extends { readonly message: string }>(what: string, effect: Effect.Effect<A, E>) =>
      effect.pipe(Effect.mapError((e) => fail(`cannot ${what}: ${e.message}`)))

    const exists = yield* io(`read ${outDir}`, fs.exists(outDir))
    if (!exists) return yield* io(`create ${outDir}`, fs.makeDirectory(outDir, { recursive: true }))
    const entries = yield* io(`list ${outDir}`, fs.readDirectory(outDir))
    if (entries.length === 0) return
    if (!entries.includes(DEMO_MARKER)) {
      return yield* fail(
        `${outDir} is not empty and holds no ${DEMO_MARKER} (it is not an earlier demo's output); ` +
          `choose another --out or empty it`
      )
    }
    for (const entry of DEMO_ENTRIES) {
      if (entries.includes(entry)) {
        yield* io(`remove ${path.join(outDir, entry)}`, fs.remove(path.join(outDir, entry), { recursive: true }))
      }
    }
  })
