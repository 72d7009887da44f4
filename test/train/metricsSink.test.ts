/**
 * The metrics sink: a history is appended to, never truncated or rewritten in place; a run that
 * starts after k updates keeps the lines up to k and drops the rest (and a torn last line) by
 * replacing the file atomically; failures are `MetricsError`s that name the file.
 */
import { NodeFileSystem } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, FileSystem, Layer, PlatformError } from "effect"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { lineText, metricsFile, type MetricsLine } from "../../src/train/metricsLine.ts"
import { keptHistory, MAX_HISTORY_BYTES, MetricsError, MetricsSink } from "../../src/train/MetricsSink.ts"
import { repoRoot } from "../support/processes.ts"
import { tempDir, TINY_MODEL_SETS } from "../support/tinyRun.ts"

const stepLine = (step: number): MetricsLine => ({
  step,
  loss: 3 - step / 10,
  lr: 1e-3,
  gradNorm: 1,
  tokens: step * 64,
  tokensPerSec: 1000
})
const evalLine = (step: number): MetricsLine => ({ step, valLoss: 3 - step / 10 })

/** What a run of `steps` updates writes, evaluating every 2. */
const run = (from: number, to: number): Array<MetricsLine> =>
  Array.from({ length: to - from }, (_, i) => from + 1 + i).flatMap((s) =>
    s % 2 === 0 ? [stepLine(s), evalLine(s)] : [stepLine(s)]
  )
const history = [evalLine(0), ...run(0, 6)]
const text = (lines: ReadonlyArray<MetricsLine>) => lines.map(lineText).join("")

/** Opens the sink's history at `startStep` and appends `lines`; the handle closes with the scope. */
const writeRun = (startStep: number, lines: ReadonlyArray<MetricsLine>) =>
  Effect.scoped(Effect.gen(function*() {
    const history = yield* (yield* MetricsSink).open(startStep)
    for (const line of lines) yield* history.append(line)
  }))

const readBack = Effect.gen(function*() {
  return yield* (yield* MetricsSink).read
})

describe("keptHistory", () => {
  it("keeps a history that ends cleanly at or before the start step whole: nothing to rewrite", () => {
    assert.isUndefined(keptHistory(text(history), 6))
    assert.isUndefined(keptHistory(text(history), 9))
    assert.isUndefined(keptHistory("", 0))
  })

  it("drops the lines past the start step, the resume markers up to it stay", () => {
    const resumed = [...history.slice(0, 4), { step: 2, resume: "exact", schedule: "keep" }, ...history.slice(4)]
    assert.strictEqual(keptHistory(text(resumed), 4), text(resumed.filter((l) => l.step <= 4)))
  })

  it("drops a torn last line even when nothing else goes", () => {
    assert.strictEqual(keptHistory(`${text(history)}{"step":7,"lo`, 6), text(history))
  })

  it("keeps nothing for a fresh run, not even the previous evaluation of step 0", () => {
    assert.strictEqual(keptHistory(text(history), 0), "")
  })
})

const laws = (name: string, layer: () => Layer.Layer<MetricsSink>) =>
  describe(`MetricsSink.${name}`, () => {
    it.effect("a fresh run's lines read back in order", () =>
      Effect.gen(function*() {
        yield* writeRun(0, history)
        assert.deepStrictEqual(yield* readBack, history)
      }).pipe(Effect.provide(layer())))

    it.effect("a run resumed at k keeps the history up to k and continues it", () =>
      Effect.gen(function*() {
        yield* writeRun(0, history)
        const marker: MetricsLine = { step: 3, resume: "exact", schedule: "keep" }
        yield* writeRun(3, [marker, ...run(3, 8)])
        assert.deepStrictEqual(yield* readBack, [...history.filter((l) => l.step <= 3), marker, ...run(3, 8)])
      }).pipe(Effect.provide(layer())))
  })

const onDisk = (runDir: string) => MetricsSink.layerFileSystem(runDir).pipe(Layer.provide(NodeFileSystem.layer))

laws("layerMemory", () => MetricsSink.layerMemory)
laws("layerFileSystem", () => onDisk(path.join(tempDir(), "run")))

describe("MetricsSink.layerFileSystem on disk", () => {
  const provideIn = (runDir: string) => Effect.provide(onDisk(runDir))

  it.effect("appends in place when nothing is dropped: the file is never replaced", () => {
    const runDir = path.join(tempDir(), "run")
    return Effect.gen(function*() {
      yield* writeRun(0, history)
      const before = fs.statSync(metricsFile(runDir)).ino
      yield* writeRun(6, run(6, 8))
      assert.strictEqual(fs.statSync(metricsFile(runDir)).ino, before)
      assert.strictEqual(fs.readFileSync(metricsFile(runDir), "utf8"), text([...history, ...run(6, 8)]))
    }).pipe(provideIn(runDir))
  })

  it.effect("drops lines past k and a torn line by renaming a new file over the old one", () => {
    const runDir = path.join(tempDir(), "run")
    fs.mkdirSync(runDir)
    fs.writeFileSync(metricsFile(runDir), `${text(history)}{"step":7,"lo`)
    const before = fs.statSync(metricsFile(runDir)).ino
    return Effect.gen(function*() {
      yield* writeRun(4, [])
      assert.notStrictEqual(fs.statSync(metricsFile(runDir)).ino, before)
      assert.strictEqual(fs.readFileSync(metricsFile(runDir), "utf8"), text(history.filter((l) => l.step <= 4)))
      assert.deepStrictEqual(fs.readdirSync(runDir), ["metrics.jsonl"])
    }).pipe(provideIn(runDir))
  })

  it.effect("a full disk is a MetricsError naming the file, on one line", () => {
    const runDir = path.join(tempDir(), "run")
    const noSpace = PlatformError.systemError({
      _tag: "Unknown",
      module: "FileSystem",
      method: "writeAll",
      pathOrDescriptor: metricsFile(runDir),
      description: "ENOSPC: no space left on device, write"
    })
    // The real file system, except that no byte fits on it any more.
    const full = Layer.effect(
      FileSystem.FileSystem,
      Effect.gen(function*() {
        const real = yield* FileSystem.FileSystem
        return {
          ...real,
          open: (file, options) =>
            Effect.map(
              real.open(file, options),
              (handle) => Object.assign(Object.create(handle), { writeAll: () => Effect.fail(noSpace) })
            )
        } satisfies FileSystem.FileSystem
      })
    ).pipe(Layer.provide(NodeFileSystem.layer))
    return Effect.gen(function*() {
      const error = yield* Effect.flip(writeRun(0, [evalLine(0)]))
      assert.instanceOf(error, MetricsError)
      assert.strictEqual(error.file, metricsFile(runDir))
      assert.notInclude(error.message, "\n")
      assert.include(error.message, "no space left on device")
    }).pipe(Effect.provide(MetricsSink.layerFileSystem(runDir).pipe(Layer.provide(full))))
  })

  /** A run directory whose metrics.jsonl is a link to `target`. */
  const linkedTo = (target: string) => {
    const runDir = path.join(tempDir(), "run")
    fs.mkdirSync(runDir)
    fs.symlinkSync(target, metricsFile(runDir))
    return runDir
  }

  const refusedRead = (runDir: string, reason: RegExp) =>
    Effect.gen(function*() {
      for (const attempt of [writeRun(4, []), readBack]) {
        const error = yield* Effect.flip(attempt)
        assert.instanceOf(error, MetricsError)
        assert.strictEqual(error.file, metricsFile(runDir))
        assert.match(error.message, reason)
      }
    }).pipe(provideIn(runDir))

  it.effect.skipIf(!fs.existsSync("/dev/zero"))("a history that is a device is refused, not read without end", () => {
    const runDir = linkedTo("/dev/zero")
    return refusedRead(runDir, /^read .*metrics\.jsonl failed: it is not a regular file but a CharacterDevice/)
  })

  const canMakeFifo = spawnSync("mkfifo", ["--version"]).status === 0
  it.effect.skipIf(!canMakeFifo)("a history that is a named pipe is refused without waiting for a writer", () => {
    const runDir = path.join(tempDir(), "run")
    fs.mkdirSync(runDir)
    assert.strictEqual(spawnSync("mkfifo", [metricsFile(runDir)]).status, 0)
    return refusedRead(runDir, /not a regular file but a FIFO/)
  })

  it.effect("a history larger than a run could write is refused before it is read", () => {
    const runDir = path.join(tempDir(), "run")
    fs.mkdirSync(runDir)
    // Sparse: it takes no space on the disk.
    fs.writeFileSync(metricsFile(runDir), "")
    fs.truncateSync(metricsFile(runDir), MAX_HISTORY_BYTES + 1)
    return refusedRead(runDir, new RegExp(`holds ${MAX_HISTORY_BYTES + 1} bytes, more than the ${MAX_HISTORY_BYTES}`))
  })

  it.skipIf(!fs.existsSync("/dev/full"))(
    "bin/continuum train: a first metrics line that finds the disk full exits 1 with one MetricsError line",
    () => {
      // A fresh run reads nothing of the history it replaces: the link stays, and the write fails.
      const runDir = linkedTo("/dev/full")
      const sets = [
        `runDir=${runDir}`,
        "steps=4",
        ...TINY_MODEL_SETS,
        "schedule.warmupSteps=1",
        "eval.every=2",
        "eval.batches=1"
      ].flatMap((s) => ["--set", s])
      const cli = spawnSync(process.execPath, [path.join(repoRoot, "bin", "continuum"), "train", ...sets], {
        cwd: repoRoot,
        encoding: "utf8"
      })
      assert.strictEqual(cli.status, 1, cli.stderr)
      assert.deepStrictEqual(cli.stderr.split("\n").filter((line) => line.startsWith("error:")), [
        `error: MetricsError: append ${metricsFile(runDir)} failed: ENOSPC: no space left on device, write`
      ])
      assert.notMatch(cli.stderr, /^\s+at /m, "no stack trace")
      assert.notInclude(cli.stderr, "Unknown")
      assert.isFalse(fs.existsSync(path.join(runDir, "checkpoints")), "no step ran")
    }
  )
})
