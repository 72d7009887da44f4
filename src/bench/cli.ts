/**
 * How long the CLI takes to answer, measured as a user meets it: each command runs as a fresh
 * child process (`node bin/continuum …`), timed from spawn to exit, hyperfine-style — warm-up
 * runs first (file cache, JIT of nothing: every run starts a new process), then N timed runs,
 * reported as mean ± standard deviation and the minimum.
 *
 * The `inspect --verify` case reads a checkpoint of the reference model; when none is given, a
 * short real run (`train --until 1` with the default configuration) writes one into a temporary
 * directory, removed afterwards.
 */
import { Effect, Schema } from "effect"
import { spawnSync, type SpawnSyncReturns } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { checkpointsDir, stepDirName } from "../checkpoint/layout.ts"
import { type Statistics, timeSync } from "./timing.ts"

/** The CLI entry of this package: `bin/continuum`, two levels above src/bench/ and dist/bench/ alike. */
export const continuumBin = fileURLToPath(new URL("../../bin/continuum", import.meta.url))

export interface CliBenchOptions {
  /** Timed runs per command. */
  readonly runs: number
  /** Untimed runs per command first. */
  readonly warmup: number
  /** Checkpoint directory for `inspect --verify` (default: one written by a short real run). */
  readonly checkpoint?: string | undefined
  /** Run the TypeScript sources through tsx instead of the build (bin/continuum's CONTINUUM_SOURCES=1). */
  readonly sources?: boolean | undefined
}

export interface CliTiming {
  /** The command line as a user types it. */
  readonly command: string
  readonly runs: number
  readonly meanMs: number
  readonly sdMs: number
  readonly minMs: number
  readonly maxMs: number
}

export interface CliBenchReport {
  /** What ran: the build or the sources, and the node binary. */
  readonly entry: string
  /** The checkpoint `inspect --verify` read, and whether this benchmark wrote it. */
  readonly checkpoint: { readonly dir: string; readonly bytes: number; readonly written: boolean }
  readonly timings: ReadonlyArray<CliTiming>
}

/** A command of the benchmark exited with a failure (or could not be started). */
export class CliBenchFailed extends Schema.TaggedError<CliBenchFailed>()("CliBenchFailed", {
  command: Schema.String,
  detail: Schema.String
}) {
  override get message(): string {
    return `\`${this.command}\` failed: ${this.detail}`
  }
}

/**
 * What `bin/continuum` runs, by its rule: the build when it exists and no source file is newer,
 * else the sources through tsx (slower to start by seconds, so the report must say which ran).
 */
export const cliEntry = (sources: boolean): "build" | "sources" => {
  const root = path.dirname(path.dirname(continuumBin))
  const compiled = path.join(root, "dist", "cli", "main.js")
  if (sources || !fs.existsSync(compiled)) return "sources"
  const src = path.join(root, "src")
  if (!fs.existsSync(src)) return "build"
  const built = fs.statSync(compiled).mtimeMs
  const newer = fs.readdirSync(src, { recursive: true, withFileTypes: true }).some((entry) =>
    entry.isFile() && fs.statSync(path.join(entry.parentPath ?? entry.path, entry.name)).mtimeMs > built
  )
  return newer ? "sources" : "build"
}

/** A run that takes longer is killed and fails the benchmark, rather than holding it up. */
const runTimeoutMs = 120_000

/** Runs `node bin/continuum ...args` to its end; a failure names the command and its last stderr line. */
const runCli = (args: ReadonlyArray<string>, env: NodeJS.ProcessEnv): SpawnSyncReturns<string> => {
  const result = spawnSync(process.execPath, [continuumBin, ...args], { encoding: "utf8", env, timeout: runTimeoutMs })
  if (result.error !== undefined || result.status !== 0) {
    const lastLine = result.stderr?.trim().split("\n").at(-1) ?? ""
    throw new CliBenchFailed({
      command: ["continuum", ...args].join(" "),
      detail: result.error?.message ?? `exit ${result.status ?? result.signal}${lastLine === "" ? "" : `: ${lastLine}`}`
    })
  }
  return result
}

const asFailure = (command: string) => (e: unknown): CliBenchFailed =>
  e instanceof CliBenchFailed ? e : new CliBenchFailed({ command, detail: e instanceof Error ? e.message : String(e) })

/** Times one command line over fresh processes. */
const timeCommand = (
  args: ReadonlyArray<string>,
  options: CliBenchOptions,
  env: NodeJS.ProcessEnv
): Effect.Effect<CliTiming, CliBenchFailed> => {
  const command = ["continuum", ...args].join(" ")
  return Effect.try({
    try: () => {
      const stats: Statistics = timeSync(() => {
        runCli(args, env)
        return undefined
      }, { iterations: options.runs, warmupIterations: options.warmup })
      return {
        command,
        runs: stats.samples?.length ?? options.runs,
        meanMs: stats.mean,
        sdMs: stats.sd,
        minMs: stats.min,
        maxMs: stats.max
      }
    },
    catch: asFailure(command)
  })
}

const directoryBytes = (dir: string): number =>
  fs.readdirSync(dir).reduce((sum, name) => sum + fs.statSync(path.join(dir, name)).size, 0)

/** A checkpoint of the reference model at step 1, written by `train --until 1` into `root`. */
const writeReferenceCheckpoint = (root: string, env: NodeJS.ProcessEnv): Effect.Effect<string, CliBenchFailed> => {
  const args = ["train", "--set", `runDir=${path.join(root, "run")}`, "--until", "1"]
  return Effect.try({
    try: () => {
      runCli(args, env)
      return path.join(checkpointsDir(path.join(root, "run")), stepDirName(1))
    },
    catch: asFailure(["continuum", ...args].join(" "))
  })
}

const entryLabel = {
  build: "the build (dist/)",
  sources: "the TypeScript sources through tsx (no build, a source newer than it, or --sources)"
} as const

/** Times `--version` and `inspect --verify CHECKPOINT`. */
export const runCliBench = (options: CliBenchOptions): Effect.Effect<CliBenchReport, CliBenchFailed> => {
  const env: NodeJS.ProcessEnv = { ...process.env, CONTINUUM_SOURCES: options.sources === true ? "1" : "0" }
  return Effect.acquireUseRelease(
    Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "continuum-bench-cli-"))),
    (root) =>
      Effect.gen(function*() {
        const entry = cliEntry(options.sources === true)
        const written = options.checkpoint === undefined
        const checkpoint = options.checkpoint ?? (yield* writeReferenceCheckpoint(root, env))
        const timings = [
          yield* timeCommand(["--version"], options, env),
          yield* timeCommand(["inspect", "--verify", checkpoint], options, env)
        ]
        return {
          entry: `${entryLabel[entry]}, node ${process.version}`,
          checkpoint: { dir: checkpoint, bytes: directoryBytes(checkpoint), written },
          timings
        }
      }),
    (root) => Effect.sync(() => fs.rmSync(root, { recursive: true, force: true }))
  )
}

const seconds = (ms: number): string => `${(ms / 1000).toFixed(3)} s`

/** One line per command: mean ± sd, min … max, runs. */
export const formatCliBench = (report: CliBenchReport): string =>
  [
    `${report.entry}; each run a fresh process, timed from spawn to exit`,
    `checkpoint: ${report.checkpoint.dir} (${(report.checkpoint.bytes / 1e6).toFixed(1)} MB${
      report.checkpoint.written ? ", written by train --until 1 with the default configuration" : ""
    })`,
    ...report.timings.map((t) =>
      `  ${t.command.startsWith("continuum inspect") ? "continuum inspect --verify CHECKPOINT" : t.command}`.padEnd(
        40
      ) +
      `mean ${seconds(t.meanMs)} ± ${seconds(t.sdMs)}   min ${seconds(t.minMs)}   max ${
        seconds(t.maxMs)
      }   (${t.runs} runs)`
    )
  ].join("\n")
