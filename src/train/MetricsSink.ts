/**
 * The metrics sink: where a run's history (`metrics.jsonl`, see metricsLine.ts) goes. It sits
 * beside the checkpoint store and follows one rule: the history is never truncated or rewritten
 * in place. A run appends; a resumed run that must drop lines first writes the lines it keeps to a
 * new file and renames it over the old one, so a kill at any instant leaves the old history or
 * the new, never less.
 *
 * One protocol over a narrow storage interface; the file system and memory implement it.
 */
import { Context, Effect, FileSystem, Layer, Option, type PlatformError, Ref, Schema, type Scope } from "effect"
import { lineKey, lineText, metricsFile, MetricsLine, parseLine } from "./metricsLine.ts"

/** Reading, replacing or appending to the history failed (permissions, disk full, …). */
export class MetricsError extends Schema.TaggedError<MetricsError>()("MetricsError", {
  operation: Schema.String,
  file: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `${this.operation} ${this.file} failed: ${this.reason}`
  }
}

/** A history open for appending, until the scope it was opened in closes. */
export interface MetricsHistory {
  readonly append: (line: MetricsLine) => Effect.Effect<void, MetricsError>
}

export interface MetricsSinkShape {
  /** `<runDir>/metrics.jsonl`, or a name for a history kept in memory. */
  readonly location: string
  /**
   * Opens the history of a run that starts after `startStep` updates (0: a fresh run). Lines past
   * that step were written by a process that ran past its last checkpoint — the resumed run
   * replays those steps — and a torn last line by a crash mid-append: both are dropped, so the
   * history always describes one trajectory. When nothing needs dropping, nothing is rewritten.
   */
  readonly open: (startStep: number) => Effect.Effect<MetricsHistory, MetricsError, Scope.Scope>
  /** The lines recorded so far; lines that do not decode (torn by a crash) are skipped. */
  readonly read: Effect.Effect<ReadonlyArray<MetricsLine>, MetricsError>
}

/** Where the text of a history is kept. */
export interface HistoryStorage {
  readonly location: string
  /** The whole text; empty when there is none yet. */
  readonly read: Effect.Effect<string, MetricsError>
  /** Replaces the whole text atomically: whatever happens, the old text or the new one is there. */
  readonly replace: (text: string) => Effect.Effect<void, MetricsError>
  /** Opens the text for appending, once, until the scope closes. */
  readonly appender: Effect.Effect<(text: string) => Effect.Effect<void, MetricsError>, MetricsError, Scope.Scope>
}

/** The text a run starting after `startStep` updates keeps, or undefined when it keeps it all. */
export const keptHistory = (text: string, startStep: number): string | undefined => {
  const lines = text.split("\n")
  // Text that ends with a newline splits into a last empty string; anything else was torn.
  const torn = lines.pop() !== ""
  // A fresh run keeps nothing: it writes its own evaluation of step 0.
  const kept = startStep === 0 ? [] : lines.filter((line) => (lineKey(line)?.step ?? Infinity) <= startStep)
  return !torn && kept.length === lines.length ? undefined : kept.map((line) => `${line}\n`).join("")
}

const decodeLine = Schema.decodeUnknownOption(MetricsLine)

/** The sink over a storage: the history protocol, written once. */
export const makeMetricsSink = (storage: HistoryStorage): MetricsSinkShape => ({
  location: storage.location,
  open: (startStep) =>
    Effect.gen(function*() {
      const kept = keptHistory(yield* storage.read, startStep)
      if (kept !== undefined) yield* storage.replace(kept)
      const append = yield* storage.appender
      return { append: (line) => append(lineText(line)) }
    }),
  read: Effect.map(
    storage.read,
    (text) => text.split("\n").flatMap((line) => Option.toArray(decodeLine(parseLine(line))))
  )
})

/**
 * `<runDir>/metrics.jsonl`. Appends go through one file handle, opened once per run. A
 * replacement is written to `metrics.jsonl.tmp` beside it, fsynced, renamed over it, and the
 * directory fsynced; a replacement cut off by a crash leaves that file behind for the next one
 * to overwrite.
 */
const fileHistory = (fs: FileSystem.FileSystem, runDir: string): HistoryStorage => {
  const file = metricsFile(runDir)
  const temp = `${file}.tmp`
  const failed = (operation: string, target = file) => (error: PlatformError.PlatformError) =>
    new MetricsError({ operation, file: target, reason: error.message })
  const encoder = new TextEncoder()

  const writeDurably = (text: string) =>
    Effect.scoped(Effect.gen(function*() {
      const handle = yield* fs.open(temp, { flag: "w" })
      yield* handle.writeAll(encoder.encode(text))
      yield* handle.sync
    })).pipe(Effect.mapError(failed("write", temp)))

  // A rename is durable once the directory is fsynced. Windows cannot open a directory for
  // this, and NTFS journals renames, so there it is skipped.
  const syncDirectory = process.platform === "win32"
    ? Effect.void
    : Effect.scoped(Effect.flatMap(fs.open(runDir, { flag: "r" }), (handle) => handle.sync)).pipe(
      Effect.mapError(failed("fsync", runDir))
    )

  return {
    location: file,
    read: fs.readFileString(file).pipe(
      Effect.catch((error) =>
        error.reason._tag === "NotFound" ? Effect.succeed("") : Effect.fail(failed("read")(error))
      )
    ),
    replace: (text) =>
      Effect.gen(function*() {
        yield* writeDurably(text)
        yield* fs.rename(temp, file).pipe(Effect.mapError(failed("rename", `${temp} → ${file}`)))
        yield* syncDirectory
      }),
    appender: Effect.gen(function*() {
      yield* fs.makeDirectory(runDir, { recursive: true }).pipe(Effect.mapError(failed("create", runDir)))
      const handle = yield* fs.open(file, { flag: "a" }).pipe(Effect.mapError(failed("open")))
      return (text: string) => handle.writeAll(encoder.encode(text)).pipe(Effect.mapError(failed("append")))
    })
  }
}

/** A history in memory, for runs that leave no files. */
export const memoryHistory = (text: Ref.Ref<string>): HistoryStorage => ({
  location: "memory",
  read: Ref.get(text),
  replace: (kept) => Ref.set(text, kept),
  appender: Effect.succeed((line: string) => Ref.update(text, (before) => before + line))
})

export class MetricsSink extends Context.Service<MetricsSink, MetricsSinkShape>()("continuum/MetricsSink") {
  /** The history in `<runDir>/metrics.jsonl`. Nothing is touched until a run opens it. */
  static readonly layerFileSystem = (runDir: string): Layer.Layer<MetricsSink, never, FileSystem.FileSystem> =>
    Layer.effect(
      MetricsSink,
      Effect.gen(function*() {
        return makeMetricsSink(fileHistory(yield* FileSystem.FileSystem, runDir))
      })
    )

  /** A fresh history in memory. */
  static readonly layerMemory: Layer.Layer<MetricsSink> = Layer.effect(
    MetricsSink,
    Effect.map(Ref.make(""), (text) => makeMetricsSink(memoryHistory(text)))
  )
}
