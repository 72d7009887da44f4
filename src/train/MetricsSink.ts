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
  /** Whether there is text a fresh run must drop; answered without reading it. */
  readonly holdsText: Effect.Effect<boolean, MetricsError>
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
      // A fresh run keeps nothing, so it drops the old text without reading it.
      const kept = startStep === 0
        ? ((yield* storage.holdsText) ? "" : undefined)
        : keptHistory(yield* storage.read, startStep)
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
 * The largest history read back: far beyond any run's (a line is about 120 bytes), and well
 * within what one JavaScript string can hold.
 */
export const MAX_HISTORY_BYTES = 256 * 1024 * 1024

/**
 * Why a platform call failed, in one line. An errno the platform has no name for (ENOSPC, EDQUOT,
 * …) comes as "Unknown: <method>"; its cause's message says what happened.
 */
const reasonOf = (error: PlatformError.PlatformError): string => {
  const cause = error.reason.cause
  return cause instanceof Error && cause.message !== "" ? cause.message : error.message
}

/**
 * `<runDir>/metrics.jsonl`. Appends go through one file handle, opened once per run. A
 * replacement is written to `metrics.jsonl.tmp` beside it, fsynced, renamed over it, and the
 * directory fsynced; a replacement cut off by a crash leaves that file behind for the next one
 * to overwrite. The history is read only when it is a regular file of bounded size: a device or
 * pipe in its place (a link to /dev/zero) would never end.
 */
const fileHistory = (fs: FileSystem.FileSystem, runDir: string): HistoryStorage => {
  const file = metricsFile(runDir)
  const temp = `${file}.tmp`
  const failed = (operation: string, target = file) => (error: PlatformError.PlatformError) =>
    new MetricsError({ operation, file: target, reason: reasonOf(error) })
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

  /** What is at the history's path (links followed), or none. */
  const info = fs.stat(file).pipe(
    Effect.map(Option.some),
    Effect.catch((error) => error.reason._tag === "NotFound" ? Effect.succeedNone : Effect.fail(failed("read")(error)))
  )

  const readable = (found: FileSystem.File.Info) =>
    found.type !== "File"
      ? Effect.fail(
        new MetricsError({
          operation: "read",
          file,
          reason: `it is not a regular file but a ${found.type}; move it away or point runDir elsewhere`
        })
      )
      : found.size > MAX_HISTORY_BYTES
      ? Effect.fail(
        new MetricsError({
          operation: "read",
          file,
          reason: `it holds ${found.size} bytes, more than the ${MAX_HISTORY_BYTES} a history may hold`
        })
      )
      : Effect.succeed(Number(found.size))

  // Checked by path before opening (opening a pipe would wait for a writer), and by handle after
  // it, for what was opened; then exactly the bytes the handle reports are read.
  const readBounded = Effect.scoped(Effect.gen(function*() {
    yield* readable(yield* fs.stat(file).pipe(Effect.mapError(failed("read"))))
    const handle = yield* fs.open(file, { flag: "r" }).pipe(Effect.mapError(failed("read")))
    const size = yield* readable(yield* handle.stat.pipe(Effect.mapError(failed("read"))))
    const bytes = new Uint8Array(size)
    let filled = 0
    while (filled < size) {
      const count = Number(yield* handle.read(bytes.subarray(filled)).pipe(Effect.mapError(failed("read"))))
      if (count === 0) break
      filled += count
    }
    return new TextDecoder().decode(bytes.subarray(0, filled))
  }))

  return {
    location: file,
    read: Effect.flatMap(info, (found) => Option.isNone(found) ? Effect.succeed("") : readBounded),
    holdsText: Effect.map(info, (found) => Option.isSome(found) && found.value.type === "File" && found.value.size > 0),
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
  holdsText: Effect.map(Ref.get(text), (held) => held !== ""),
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
