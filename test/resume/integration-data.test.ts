/**
 * Resumes across changes of batch geometry, on real runs: exact with another data-parallel degree
 * is bit-identical to the uninterrupted run, and `continue` with the global batch doubled reads
 * the samples as one contiguous stream — no sample repeated, none skipped, every window once per
 * epoch — checked against what the data loader actually handed to the model.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Layer, Schema, Stream } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { CheckpointState } from "../../src/checkpoint/checkpointState.ts"
import type { RunConfig } from "../../src/config/RunConfig.ts"
import { Start } from "../../src/config/Start.ts"
import { DataLoader } from "../../src/data/DataLoader.ts"
import { makeWindowSampler } from "../../src/data/sampler.ts"
import { plannedStartLayer } from "../../src/resume/plannedStart.ts"
import { presets } from "../../src/resume/policy.ts"
import { checkExactResume, type RunStart } from "../../src/testkit/index.ts"
import { composeRun, dataLayerFor } from "../../src/train/layers.ts"
import { Trainer } from "../../src/train/Trainer.ts"
import { stepEvents, tempDir, tinyConfig } from "../support/tinyRun.ts"

describe("exact resume across a change of P", () => {
  it.effect("resuming with dp 2 (A 2 → 1) is bit-identical to the uninterrupted dp 1 run", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const config = yield* tinyConfig(path.join(dir, "unused"))
      assert.deepStrictEqual(config.batch, { global: 4, micro: 2, dp: 1 })
      const report = yield* checkExactResume({ config, stopAt: [5], changes: { "batch.dp": 2 }, workDir: dir })
      assert.strictEqual(report.stopPoints[0]!.tensorsCompared, 36)
      // The resumed part really ran with two ranks: its checkpoints record P = 2.
      const manifest = JSON.parse(
        fs.readFileSync(path.join(dir, "stop-5", "checkpoints", "step-00000012", "manifest.json"), "utf8")
      ) as { state: unknown }
      const state = Schema.decodeUnknownSync(CheckpointState)(manifest.state)
      assert.deepStrictEqual(state.data.geometry, { global: 4, micro: 2, dp: 2 })
    }))
})

// ---------------------------------------------------------------------------------------------
// A run whose data loader records every micro-batch it hands out

interface Consumed {
  /** Global sample index of each row, from the step cursor and micro-batch index. */
  readonly samples: Array<number>
  /** The input tokens of each row, as the model received them. */
  readonly rows: Array<string>
}

const recordingData = (config: RunConfig, consumed: Consumed) =>
  Layer.effect(
    DataLoader,
    Effect.gen(function*() {
      const data = yield* DataLoader
      const { micro } = data.geometry
      return {
        ...data,
        microBatch: (cursor: number, j: number) => {
          const batch = data.microBatch(cursor, j)
          for (let r = 0; r < micro; r++) {
            consumed.samples.push(cursor + j * micro + r)
            consumed.rows.push(batch.ids.subarray(r * batch.seqLen, (r + 1) * batch.seqLen).join(","))
          }
          return batch
        }
      }
    })
  ).pipe(Layer.provide(dataLayerFor(config)))

/** The default composition, with the recording data loader in place of the plain one. */
const recordingRun = (config: RunConfig, start: RunStart, consumed: Consumed) =>
  composeRun(config, { start, data: recordingData(config, consumed) })

const train = (config: RunConfig, start: RunStart) =>
  Effect.scoped(Effect.gen(function*() {
    const consumed: Consumed = { samples: [], rows: [] }
    const context = yield* Layer.build(recordingRun(config, start, consumed))
    const events = yield* Stream.runCollect(Context.get(context, Trainer).events)
    return { consumed, events, windows: Context.get(context, DataLoader).windows }
  }))

/** Lowercase letters from a small LCG: every 16-byte window of it is distinct. */
const randomText = (length: number, seed: number): string => {
  let x = seed >>> 0
  let out = ""
  for (let i = 0; i < length; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0
    out += String.fromCharCode(97 + (x >>> 24) % 26)
  }
  return out
}

const stateAt = (runDir: string, step: number) => {
  const file = path.join(runDir, "checkpoints", `step-${String(step).padStart(8, "0")}`, "manifest.json")
  return Schema.decodeUnknownSync(CheckpointState)(
    (JSON.parse(fs.readFileSync(file, "utf8")) as { state: unknown }).state
  )
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i)

describe("continue with the global batch doubled", () => {
  it.effect("never repeats or skips a sample, and sees every window once per epoch", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const text = randomText(600, 99)
      const source = path.join(dir, "letters.txt")
      fs.writeFileSync(source, text)
      const runDir = path.join(dir, "run")
      // No validation batch fits a 60-token validation part; the data is all about training windows.
      const before = yield* tinyConfig(runDir, { data: { source }, steps: 12, eval: { every: 0 } })
      const first = yield* train(before, Start.fresh)
      const after = yield* tinyConfig(runDir, { data: { source }, steps: 20, eval: { every: 0 }, batch: { global: 8 } })
      const second = yield* train(after, plannedStartLayer(presets.continue, undefined))

      // The window of each consumed row, identified by its tokens: window w starts at token 16·w.
      const M = first.windows
      assert.strictEqual(M, Math.floor((540 - 1) / 16))
      const windowOf = new Map<string, number>()
      const bytes = new TextEncoder().encode(text)
      for (let w = 0; w < M; w++) windowOf.set(bytes.subarray(w * 16, w * 16 + 16).join(","), w)
      assert.strictEqual(windowOf.size, M, "the windows are distinct")

      // The cursor stored at the resume is k·B; after it the run advances 2B per step.
      const k = 12
      const B = 4
      assert.strictEqual(stateAt(runDir, k).data.cursor, k * B)
      assert.deepStrictEqual(first.consumed.samples, range(0, k * B))
      assert.deepStrictEqual(second.consumed.samples, range(k * B, k * B + 8 * (2 * B)))
      assert.strictEqual(stateAt(runDir, 20).data.cursor, k * B + 8 * 2 * B)
      assert.deepStrictEqual(stepEvents(second.events).map((e) => e.step), range(13, 21))

      // Together: one contiguous run of global samples, each read as the sampler's window.
      const samples = [...first.consumed.samples, ...second.consumed.samples]
      const rows = [...first.consumed.rows, ...second.consumed.rows]
      assert.deepStrictEqual(samples, range(0, 112))
      const sampler = makeWindowSampler(before.seed, M)
      const windows = rows.map((row) => windowOf.get(row))
      assert.deepStrictEqual(windows, samples.map((g) => sampler.windowAt(g)))

      // 112 samples over 33 windows: epochs 0, 1 and 2 are whole permutations, epoch 3 has no repeat.
      for (let epoch = 0; epoch * M < samples.length; epoch++) {
        const seen = windows.slice(epoch * M, (epoch + 1) * M)
        assert.strictEqual(new Set(seen).size, seen.length, `epoch ${epoch} repeats a window`)
        if (seen.length === M) assert.deepStrictEqual([...seen].sort((a, b) => a! - b!), range(0, M), `epoch ${epoch}`)
      }
      assert.isAbove(samples.length, 3 * M, "the runs cross several epochs and the resume falls inside one")
      assert.notStrictEqual((k * B) % M, 0)
    }))
})
