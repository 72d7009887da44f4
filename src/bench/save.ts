/**
 * What checkpointing costs the step loop: the same run with no periodic checkpoints, with
 * synchronous saves and with background saves, every `--every` steps. Reports the median and mean
 * wall time between consecutive steps, and how long the loop was blocked inside checkpoint store
 * calls (retention, save, waiting for the previous background save). Also checks that the three
 * runs end with bit-identical weights and optimizer state: how a checkpoint is written must not
 * change the run.
 *
 * For background saves it also reports how many steps after being handed over a save was found
 * on disk (checked after each step), or that it was still unfinished when the next save needed it.
 *
 * The same synchronous and background saves go to an S3-compatible bucket too, on a local s3rver
 * in its own process (localObjectServer.ts), when that development dependency is installed; else
 * the reason is printed and those rows are left out.
 *
 *   continuum bench save [--size=default|mid] [--steps=N] [--every=N] [--rounds=N]
 */
import { Context, Effect, FileSystem, Layer, Result, Schema, Stream } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import {
  CheckpointStore,
  type CheckpointStoreShape,
  makeCheckpointStore,
  makeObjectStoreCheckpointStore
} from "../checkpoint/CheckpointStore.ts"
import { makeWriterThreadDisk } from "../checkpoint/writerThreadDisk.ts"
import { decodeRunConfig } from "../config/loadConfig.ts"
import type { RunConfig } from "../config/RunConfig.ts"
import { Model } from "../model/ModelService.ts"
import { Optimizer } from "../optim/OptimizerService.ts"
import type { OnProgress } from "../tensor/progress.ts"
import type { Tensor } from "../tensor/tensor.ts"
import { composeRun } from "../train/layers.ts"
import { Trainer } from "../train/Trainer.ts"
import { BENCH_BUCKET, startLocalObjectServer } from "./localObjectServer.ts"
import { type ModelSize, modelSizes } from "./sizes.ts"
import { median } from "./timing.ts"

export interface SaveBenchOptions {
  readonly size: ModelSize
  readonly steps: number
  /** Steps between checkpoints. */
  readonly every: number
  /** With several rounds the modes are interleaved and the fastest run of each is kept. */
  readonly rounds: number
  /** Told after every step of every run. */
  readonly onProgress?: OnProgress | undefined
}

type Mode = "none" | "sync" | "async" | "s3 sync" | "s3 async"

const modeLabels: Record<Mode, string> = {
  none: "no checkpoints",
  sync: "sync saves",
  async: "async saves",
  "s3 sync": "sync saves, local S3",
  "s3 async": "async saves, local S3"
}

interface Timings {
  retain: number
  save: number
  awaitPending: number
  calls: number
}

/**
 * The store of the mode — the file system, or the local server's bucket under a prefix of its own —
 * with the time each call the trainer makes spends inside it added up.
 */
const timedStore = (runDir: string, mode: Mode, timings: Timings) =>
  Layer.effect(
    CheckpointStore,
    Effect.gen(function*() {
      const inner = mode.startsWith("s3")
        ? yield* makeObjectStoreCheckpointStore(`s3://${BENCH_BUCKET}/${path.basename(runDir)}`)
        : yield* makeCheckpointStore(yield* makeWriterThreadDisk(yield* FileSystem.FileSystem), runDir)
      const timed = <A, E>(key: "retain" | "save" | "awaitPending", effect: Effect.Effect<A, E>) =>
        Effect.suspend(() => {
          const started = performance.now()
          return Effect.ensuring(
            effect,
            Effect.sync(() => {
              timings[key] += performance.now() - started
              timings.calls += 1
            })
          )
        })
      return {
        ...inner,
        retain: (options) => timed("retain", inner.retain(options)),
        save: (snapshot) => timed("save", inner.save(snapshot)),
        saveAsync: (snapshot, options) => timed("save", inner.saveAsync(snapshot, options)),
        awaitPending: timed("awaitPending", inner.awaitPending)
      } satisfies CheckpointStoreShape
    })
  )

interface Result {
  readonly mode: Mode
  readonly stepMs: ReadonlyArray<number>
  readonly timings: Timings
  readonly wallMs: number
  readonly checkpoints: number
  /** Per background save: steps until it was on disk, or undefined if the next save had to wait for it. */
  readonly landedAfter: ReadonlyArray<number | undefined>
  readonly params: Record<string, Tensor>
  readonly optimizer: Record<string, Tensor>
}

const run = (
  { size, steps, every }: SaveBenchOptions,
  mode: Mode,
  runDir: string,
  onStep: (step: number) => void
) =>
  Effect.scoped(Effect.gen(function*() {
    const config: RunConfig = yield* decodeRunConfig({
      runDir,
      steps,
      model: modelSizes[size],
      schedule: { warmupSteps: Math.max(1, Math.floor(steps / 4)) },
      eval: { every: 0, batches: 1 },
      checkpoint: { every: mode === "none" ? 0 : every, async: mode.endsWith("async"), keepLatest: 3 }
    })
    const timings: Timings = { retain: 0, save: 0, awaitPending: 0, calls: 0 }
    const context = yield* Layer.build(composeRun(config, { checkpoints: timedStore(runDir, mode, timings) }))
    const stepMs: Array<number> = []
    let checkpoints = 0
    const landedAfter: Array<number | undefined> = []
    let inFlight: { readonly manifest: string; readonly step: number } | undefined
    const started = performance.now()
    let last = started
    yield* Stream.runForEach(Context.get(context, Trainer).events, (event) =>
      Effect.sync(() => {
        if (event._tag === "Checkpoint") {
          checkpoints += 1
          // The pull that hands over a save first waits for the previous one (retention settles
          // it), so one still in flight here did not land on its own.
          if (inFlight !== undefined) landedAfter.push(undefined)
          inFlight = mode === "async"
            ? { manifest: path.join(event.path, "manifest.json"), step: event.step }
            : undefined
        }
        if (event._tag !== "Step") return
        const now = performance.now()
        stepMs.push(now - last)
        onStep(event.step)
        last = performance.now()
        // Only after steps that save nothing: a saving pull has already waited for the last save.
        const saving = event.step === steps || (every > 0 && event.step % every === 0)
        if (!saving && inFlight !== undefined && fs.existsSync(inFlight.manifest)) {
          landedAfter.push(event.step - inFlight.step)
          inFlight = undefined
        }
      }))
    if (inFlight !== undefined) landedAfter.push(undefined) // the final save, awaited at the end
    const wallMs = performance.now() - started
    const copy = (m: ReadonlyMap<string, Tensor>) =>
      Object.fromEntries([...m].map(([name, t]) => [name, { shape: t.shape, data: t.data.slice() }]))
    return {
      mode,
      timings,
      wallMs,
      checkpoints,
      landedAfter,
      // The first step carries the initial evaluation and warm-up, the last one the final save.
      stepMs: stepMs.slice(1, -1),
      params: copy(Context.get(context, Model).params),
      optimizer: copy(Context.get(context, Optimizer).state.tensors)
    } satisfies Result
  }))

const sameBits = (a: Record<string, Tensor>, b: Record<string, Tensor>): boolean =>
  Object.keys(a).length === Object.keys(b).length &&
  Object.entries(a).every(([name, t]) => {
    const u = b[name]
    if (u === undefined || u.data.length !== t.data.length) return false
    const x = new Uint32Array(t.data.buffer, t.data.byteOffset, t.data.length)
    const y = new Uint32Array(u.data.buffer, u.data.byteOffset, u.data.length)
    return x.every((bits, i) => bits === y[i])
  })

/** What the save benchmark found: the table, one row per mode, and the lines around it. */
export interface SaveBenchReport {
  readonly caption: string
  readonly table: Record<string, Record<string, number | string>>
  readonly landed: string
  /** Why the local S3 rows are missing, when they are. */
  readonly skipped: string | undefined
  /** Whether the modes ended with bit-identical weights and optimizer state. */
  readonly identical: boolean
}

/** How a checkpoint was written changed the run: the modes ended with different weights. */
export class SaveModesDiverged extends Schema.TaggedError<SaveModesDiverged>()("SaveModesDiverged", {}) {
  override get message(): string {
    return "final weights or optimizer state differ between checkpoint modes"
  }
}

/** Runs the modes in a temporary directory, removed afterwards. */
export const runSaveBench = (options: SaveBenchOptions) =>
  Effect.acquireUseRelease(
    Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "continuum-bench-save-"))),
    (root) =>
      Effect.gen(function*() {
        const { size, steps, every, rounds } = options
        const results: Array<Result> = []
        const server = yield* Effect.result(startLocalObjectServer)
        const skipped = Result.isFailure(server) ? `local S3 rows skipped: ${server.failure}` : undefined
        // With several rounds the modes are interleaved and the fastest run of each is kept.
        const modes: ReadonlyArray<Mode> = skipped === undefined
          ? ["none", "sync", "async", "s3 sync", "s3 async"]
          : ["none", "sync", "async"]
        const total = rounds * modes.length * steps
        let runsDone = 0
        for (let round = 0; round < rounds; round++) {
          for (const mode of modes) {
            const detail = `${modeLabels[mode]}${rounds > 1 ? `, round ${round + 1}` : ""}`
            const onStep = (step: number) =>
              options.onProgress?.({ task: "bench save", done: runsDone * steps + step, total, unit: "steps", detail })
            const result = yield* run(options, mode, path.join(root, `${mode}-${round}`), onStep)
            runsDone += 1
            const prior = results.findIndex((r) => r.mode === mode)
            if (prior < 0) results.push(result)
            else if (result.wallMs < results[prior]!.wallMs) results[prior] = result
          }
        }
        const bytes = fs.readdirSync(path.join(root, "sync-0", "checkpoints")).filter((n) => n.startsWith("step-"))
          .map((n) => path.join(root, "sync-0", "checkpoints", n))
          .map((dir) => fs.readdirSync(dir).reduce((sum, f) => sum + fs.statSync(path.join(dir, f)).size, 0))[0] ?? 0
        const caption =
          `${size} model, ${steps} steps, checkpoint every ${every} steps (${(bytes / 1e6).toFixed(1)} MB each), ` +
          `keepLatest 3; step times exclude the first and the last step (final save)`
        const none = results.find((r) => r.mode === "none")!
        const table = Object.fromEntries(results.map((r) => {
          const blocked = r.timings.retain + r.timings.save + r.timings.awaitPending
          const mean = r.stepMs.reduce((s, x) => s + x, 0) / r.stepMs.length
          return [modeLabels[r.mode], {
            "median ms/step": +median(r.stepMs).toFixed(1),
            "mean ms/step": +mean.toFixed(1),
            "max ms/step": +Math.max(...r.stepMs).toFixed(1),
            "checkpoints": r.checkpoints,
            "blocked ms (total)": +blocked.toFixed(1),
            "  in save": +r.timings.save.toFixed(1),
            "  in retain": +r.timings.retain.toFixed(1),
            "  in final await": +r.timings.awaitPending.toFixed(1),
            "wall s": +(r.wallMs / 1000).toFixed(2),
            "vs none": `${(((r.wallMs - none.wallMs) / none.wallMs) * 100).toFixed(1)}%`
          }]
        }))
        const background = results.find((r) => r.mode === "async")!
        const landed =
          "background saves on disk after how many further steps (\"waited for\": still unfinished when the next save or the end came): " +
          background.landedAfter.map((n) => n === undefined ? "waited for" : String(n)).join(", ")
        const reference = results[0]!
        const identical = results.every((r) =>
          sameBits(r.params, reference.params) && sameBits(r.optimizer, reference.optimizer)
        )
        return { caption, table, landed, skipped, identical } satisfies SaveBenchReport
      }).pipe(Effect.scoped),
    (root) => Effect.sync(() => fs.rmSync(root, { recursive: true, force: true }))
  )
