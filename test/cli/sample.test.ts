import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber } from "effect"
import { TestClock } from "effect/testing"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { makeCheckpointStore } from "../../src/checkpoint/CheckpointStore.ts"
import { makeMemoryDisk } from "../../src/checkpoint/disk.ts"
import { stepDirName } from "../../src/checkpoint/layout.ts"
import { sampleDefaults } from "../../src/cli/commands/sample.ts"
import { type SampleArgs, sampleText } from "../../src/cli/handlers/sample.ts"
import { makeCpuKernels } from "../../src/kernels/cpu/index.ts"
import { argmax, makeChoiceScratch, sampleToken } from "../../src/sample/choose.ts"
import type { NoValidCheckpoint } from "../../src/sample/errors.ts"
import { generate } from "../../src/sample/generate.ts"
import { loadModelAt } from "../../src/sample/loadModel.ts"
import { latestValidOrWait, openReadOnlyStore } from "../../src/sample/target.ts"
import { snapshotAt } from "../checkpoint/fixtures.ts"
import { tempDir, tinyConfig, trainRun } from "../support/tinyRun.ts"

const cpuKernels = makeCpuKernels()

/** A tiny run trained once for the whole file (12 steps, checkpoints at 4, 8, 12). */
let trained: string | undefined
const trainedRunDir = Effect.gen(function*() {
  if (trained !== undefined) return trained
  const runDir = path.join(tempDir(), "run")
  yield* trainRun(yield* tinyConfig(runDir))
  trained = runDir
  return runDir
})

const args = (dir: string, over: Partial<SampleArgs> = {}): SampleArgs => ({
  ...sampleDefaults,
  dir,
  prompt: "Call me Ishmael",
  tokens: 24,
  ...over
})

const run = (a: SampleArgs) => sampleText(a).pipe(Effect.provide(NodeServices.layer))

/** The typed failure of an exit, or undefined. */
const failureOf = <A, E>(exit: Exit.Exit<A, E>): E | undefined => {
  if (Exit.isSuccess(exit)) return undefined
  const reason = exit.cause.reasons.find((r) => r._tag === "Fail")
  return reason === undefined ? undefined : (reason as { readonly error: E }).error
}

const failureTag = <A, E>(exit: Exit.Exit<A, E>): string => {
  const error = failureOf(exit) as { readonly _tag?: string } | undefined
  return Exit.isSuccess(exit) ? "(success)" : error?._tag ?? "(no typed failure)"
}

describe("token choice", () => {
  const logits = Float32Array.from([0.5, 2, -1, 2, 1])

  it("argmax takes the largest logit, the lowest id on ties, and never NaN", () => {
    assert.strictEqual(argmax(logits, 0, 5), 1)
    assert.strictEqual(argmax(Float32Array.from([NaN, 1, 3, NaN]), 0, 4), 2)
    assert.strictEqual(argmax(Float32Array.from([NaN, -Infinity]), 0, 2), -1)
    // Only the window [offset, offset + count) counts.
    assert.strictEqual(argmax(Float32Array.from([9, 9, 0, 1]), 2, 2), 1)
  })

  it("sampling follows the softmax: the inverse CDF at u, candidates in id order", () => {
    const scratch = makeChoiceScratch(5)
    const w = Array.from(logits, (x) => Math.exp(x - 2))
    const total = w.reduce((a, b) => a + b, 0)
    const cdf = w.map((_, i) => w.slice(0, i + 1).reduce((a, b) => a + b, 0) / total)
    for (const [i, c] of cdf.entries()) {
      const before = i === 0 ? 0 : cdf[i - 1]!
      assert.strictEqual(sampleToken(logits, 0, 5, 1, 5, (before + c) / 2, scratch), i)
    }
    assert.strictEqual(sampleToken(logits, 0, 5, 1, 5, 0, scratch), 0)
    assert.strictEqual(sampleToken(logits, 0, 5, 1, 5, 1 - 1e-16, scratch), 4)
  })

  it("top-k keeps only the k largest (ties by lowest id); a low temperature approaches argmax", () => {
    const scratch = makeChoiceScratch(5)
    for (let u = 0; u < 1; u += 0.01) {
      assert.include([1, 3], sampleToken(logits, 0, 5, 1, 2, u, scratch))
      assert.strictEqual(sampleToken(logits, 0, 5, 1, 1, u, scratch), 1)
      assert.include([1, 3], sampleToken(logits, 0, 5, 1e-3, 5, u, scratch))
    }
    // k = 3 keeps ids 1, 3 and the next largest (4), never 0 or 2.
    const seen = new Set<number>()
    for (let u = 0; u < 1; u += 0.001) seen.add(sampleToken(logits, 0, 5, 1, 3, u, scratch))
    assert.deepStrictEqual([...seen].sort(), [1, 3, 4])
  })

  it("NaN and −∞ logits are never drawn; nothing to draw gives -1", () => {
    const scratch = makeChoiceScratch(4)
    const masked = Float32Array.from([NaN, 0, -Infinity, 0])
    for (let u = 0; u < 1; u += 0.05) assert.include([1, 3], sampleToken(masked, 0, 4, 1, 4, u, scratch))
    assert.strictEqual(sampleToken(Float32Array.from([NaN, -Infinity]), 0, 2, 1, 2, 0.5, scratch), -1)
  })
})

describe("sample", () => {
  it.effect("greedy sampling is deterministic and returns the prompt followed by N bytes", () =>
    Effect.gen(function*() {
      const runDir = yield* trainedRunDir
      const a = yield* run(args(runDir, { temperature: 0 }))
      const b = yield* run(args(runDir, { temperature: 0 }))
      const prompt = new TextEncoder().encode("Call me Ishmael")
      assert.strictEqual(a.bytes.length, prompt.length + 24)
      assert.deepStrictEqual(a.bytes.subarray(0, prompt.length), prompt)
      assert.deepStrictEqual(a.bytes, b.bytes)
      assert.strictEqual(a.step, 12, "a run directory means its latest valid checkpoint")
      assert.isTrue(a.text.startsWith("Call me Ishmael"))
      // The seed plays no part in greedy decoding.
      assert.deepStrictEqual((yield* run(args(runDir, { temperature: 0, seed: 99 }))).bytes, a.bytes)
    }))

  it.effect("the bytes are the model's argmax continuation over a sliding window of seqLen", () =>
    Effect.gen(function*() {
      const runDir = yield* trainedRunDir
      const dir = path.join(runDir, "checkpoints", stepDirName(8))
      // A prompt longer than the window (seqLen 16) exercises the slide.
      const prompt = "It is a way I have of driving off the spleen"
      const sampled = yield* run(args(dir, { prompt, temperature: 0, tokens: 10 }))
      assert.strictEqual(sampled.step, 8)
      const loaded = yield* Effect.scoped(Effect.flatMap(openReadOnlyStore(runDir), (store) => loadModelAt(store, 8)))
        .pipe(
          Effect.provide(NodeServices.layer)
        )
      const seq = Array.from(new TextEncoder().encode(prompt))
      for (let i = 0; i < 10; i++) {
        const window = Int32Array.from(seq.slice(-loaded.model.seqLen))
        const logits = loaded.model.logits(cpuKernels, loaded.params, window, 1, window.length)
        seq.push(argmax(logits, (window.length - 1) * 256, 256))
      }
      assert.deepStrictEqual(Array.from(sampled.bytes), seq)
      assert.deepStrictEqual(
        generate(loaded.model, loaded.params, cpuKernels, new TextEncoder().encode(prompt), {
          tokens: 10,
          temperature: 0,
          seed: 0
        }),
        sampled.bytes
      )
    }))

  it.effect("the same seed gives the same sample; another seed a different one", () =>
    Effect.gen(function*() {
      const runDir = yield* trainedRunDir
      const opts = { temperature: 1, tokens: 48 }
      const a = yield* run(args(runDir, { ...opts, seed: 1 }))
      const again = yield* run(args(runDir, { ...opts, seed: 1 }))
      const b = yield* run(args(runDir, { ...opts, seed: 2 }))
      assert.deepStrictEqual(again.bytes, a.bytes)
      assert.notDeepEqual(b.bytes, a.bytes)
      const greedy = yield* run(args(runDir, { temperature: 0, tokens: 48 }))
      assert.notDeepEqual(a.bytes, greedy.bytes, "temperature 1 samples rather than taking the argmax")
      const topOne = yield* run(args(runDir, { ...opts, seed: 3, topK: 1 }))
      assert.deepStrictEqual(topOne.bytes, greedy.bytes, "top-k 1 is greedy")
    }))

  it.effect("a run directory without checkpoints fails with NoValidCheckpoint; a bad path with CheckpointPathInvalid", () =>
    Effect.gen(function*() {
      const empty = tempDir()
      const none = yield* Effect.exit(run(args(empty)))
      assert.strictEqual(failureTag(none), "NoValidCheckpoint")
      const missing = yield* Effect.exit(run(args(path.join(empty, "nowhere"))))
      assert.strictEqual(failureTag(missing), "CheckpointPathInvalid")
      const file = path.join(empty, "file.txt")
      fs.writeFileSync(file, "x")
      assert.strictEqual(failureTag(yield* Effect.exit(run(args(file)))), "CheckpointPathInvalid")
      const absentStep = path.join(yield* trainedRunDir, "checkpoints", stepDirName(5))
      assert.strictEqual(failureTag(yield* Effect.exit(run(args(absentStep)))), "CheckpointNotFound")
    }))

  it.effect("options out of range are rejected before anything is read", () =>
    Effect.gen(function*() {
      const nowhere = path.join(tempDir(), "nowhere")
      for (
        const over of [{ tokens: -1 }, { temperature: -0.5 }, { temperature: NaN }, { seed: -1 }, { topK: -2 }, {
          wait: -1
        }, { tokens: 1.5 }]
      ) {
        const exit = yield* Effect.exit(run(args(nowhere, over)))
        assert.strictEqual(failureTag(exit), "SampleOptionInvalid", JSON.stringify(over))
      }
      const emptyPrompt = yield* Effect.exit(run(args(yield* trainedRunDir, { prompt: "" })))
      assert.strictEqual(failureTag(emptyPrompt), "SampleOptionInvalid")
    }))

  it.effect("a corrupt checkpoint is refused when named, and skipped in favour of an older one for a run", () =>
    Effect.gen(function*() {
      const runDir = path.join(tempDir(), "run")
      yield* trainRun(yield* tinyConfig(runDir, { steps: 8 }))
      const file = path.join(runDir, "checkpoints", stepDirName(8), "model.safetensors")
      const bytes = fs.readFileSync(file)
      bytes[bytes.length - 1] ^= 0x01
      fs.writeFileSync(file, bytes)
      const named = yield* Effect.exit(run(args(path.dirname(file))))
      assert.strictEqual(failureTag(named), "CheckpointCorrupt")
      const latest = yield* run(args(runDir, { temperature: 0 }))
      assert.strictEqual(latest.step, 4)
    }))
})

describe("waiting for a run's first checkpoint", () => {
  // A memory store: every operation completes synchronously, so only the test clock moves time.
  const memoryStore = Effect.suspend(() => makeCheckpointStore(makeMemoryDisk(), "/memory/run"))

  it.effect("polls every second until a valid checkpoint appears", () =>
    Effect.scoped(Effect.gen(function*() {
      const store = yield* memoryStore
      const fiber = yield* Effect.forkChild(latestValidOrWait(store, "/memory/run", 10))
      yield* TestClock.adjust("2 seconds")
      assert.isUndefined(fiber.pollUnsafe(), "still waiting")
      yield* store.save(snapshotAt(3))
      yield* TestClock.adjust("1 second")
      const found = yield* Fiber.join(fiber)
      assert.strictEqual(found.step, 3)
    })))

  it.effect("gives up after the wait with NoValidCheckpoint naming the time waited", () =>
    Effect.scoped(Effect.gen(function*() {
      const store = yield* memoryStore
      const fiber = yield* Effect.forkChild(Effect.exit(latestValidOrWait(store, "/memory/run", 3)))
      yield* TestClock.adjust("2 seconds")
      assert.isUndefined(fiber.pollUnsafe())
      yield* TestClock.adjust("1 second")
      const exit = yield* Fiber.join(fiber)
      assert.strictEqual(failureTag(exit), "NoValidCheckpoint")
      const error = failureOf(exit) as NoValidCheckpoint
      assert.strictEqual(error.waitedSeconds, 3)
      assert.include(error.message, "/memory/run holds no valid checkpoint after waiting 3 s")
    })))
})

describe("bin/continuum sample", () => {
  it.effect("prints the prompt and its greedy continuation, the same on every call", () =>
    Effect.gen(function*() {
      const runDir = yield* trainedRunDir
      const cli = () =>
        spawnSync(process.execPath, [
          path.join(process.cwd(), "bin", "continuum"),
          "sample",
          runDir,
          "--prompt",
          "Call me",
          "--tokens",
          "12",
          "--temperature",
          "0"
        ], {
          encoding: "utf8"
        })
      const first = cli()
      assert.strictEqual(first.status, 0, first.stderr)
      const expected = yield* run(args(runDir, { prompt: "Call me", tokens: 12, temperature: 0 }))
      assert.strictEqual(first.stdout, `${expected.text}\n`)
      assert.strictEqual(cli().stdout, first.stdout)

      const empty = spawnSync(process.execPath, [
        path.join(process.cwd(), "bin", "continuum"),
        "sample",
        tempDir(),
        "--prompt",
        "x"
      ], {
        encoding: "utf8"
      })
      assert.strictEqual(empty.status, 1)
      assert.include(empty.stderr, "NoValidCheckpoint")
    }))
})
