/**
 * Every rejection listed in docs/design.md, built for real: a tiny run trained to checkpoints on disk,
 * a changed configuration, and the run's layers built with a planned start. A rejected plan must
 * fail `Layer.build` with `PlanRejected` (the right reason tags, naming fields and values) before
 * any step runs — so neither metrics.jsonl nor the checkpoints directory may change.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Context, Effect, Exit, Layer, Option, Stream } from "effect"
import { spawnSync } from "node:child_process"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { encodeRunConfig } from "../../src/config/loadConfig.ts"
import type { RunConfig } from "../../src/config/RunConfig.ts"
import { modelFromConfig } from "../../src/model/fromConfig.ts"
import { describeReason, PlanRejected, type RejectionReason, type ResumePlan } from "../../src/resume/plan.ts"
import { AcceptedPlan, plannedStartLayer } from "../../src/resume/plannedStart.ts"
import { presets, type ResumePolicy } from "../../src/resume/policy.ts"
import { runLayer } from "../../src/train/layers.ts"
import { readMetrics } from "../../src/train/metricsLine.ts"
import { Trainer } from "../../src/train/Trainer.ts"
import { tempDir, tinyConfig } from "../support/tinyRun.ts"

// ---------------------------------------------------------------------------------------------
// Helpers

/** Path → size, mtime and content hash of every file below `dir` (empty when it does not exist). */
const treeSnapshot = (dir: string): Record<string, { size: number; mtimeMs: number; sha256: string }> => {
  const out: Record<string, { size: number; mtimeMs: number; sha256: string }> = {}
  const walk = (current: string): void => {
    if (!fs.existsSync(current)) return
    for (const entry of fs.readdirSync(current, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const full = path.join(current, entry.name)
      if (entry.isDirectory()) walk(full)
      else {
        const stat = fs.statSync(full)
        out[path.relative(dir, full)] = {
          size: stat.size,
          mtimeMs: stat.mtimeMs,
          sha256: createHash("sha256").update(fs.readFileSync(full)).digest("hex")
        }
      }
    }
  }
  walk(dir)
  return out
}

/** What a rejected start must leave untouched: the metrics bytes and the checkpoint files. */
const runDirState = (runDir: string) => ({
  metrics: fs.existsSync(path.join(runDir, "metrics.jsonl"))
    ? fs.readFileSync(path.join(runDir, "metrics.jsonl"))
    : undefined,
  checkpoints: treeSnapshot(path.join(runDir, "checkpoints")),
  entries: fs.existsSync(runDir) ? fs.readdirSync(runDir).sort() : []
})

const assertUnchanged = (runDir: string, before: ReturnType<typeof runDirState>) => {
  const after = runDirState(runDir)
  assert.deepStrictEqual(after.entries, before.entries, "run directory entries")
  assert.isTrue(
    before.metrics === undefined
      ? after.metrics === undefined
      : after.metrics !== undefined && before.metrics.equals(after.metrics),
    "metrics.jsonl bytes unchanged"
  )
  assert.deepStrictEqual(after.checkpoints, before.checkpoints, "checkpoints directory unchanged")
}

/** Builds the whole run with a planned start; returns the plan, or the failure. */
const buildPlanned = (config: RunConfig, policy: ResumePolicy, from?: string) =>
  Effect.scoped(Effect.gen(function*() {
    const context = yield* Layer.build(runLayer(config, plannedStartLayer(policy, from)))
    return Context.get(context, AcceptedPlan)
  })).pipe(Effect.exit)

/**
 * Builds the run, expects `PlanRejected` with exactly `tags` (in any order) and checks that the
 * run directory is byte for byte as it was.
 */
const expectRejected = (
  config: RunConfig,
  policy: ResumePolicy,
  tags: ReadonlyArray<RejectionReason["_tag"]>,
  from?: string
) =>
  Effect.gen(function*() {
    const before = runDirState(config.runDir)
    const exit = yield* buildPlanned(config, policy, from)
    assert.isTrue(Exit.isFailure(exit), "the plan must be rejected")
    const failure = Exit.isFailure(exit) ? Cause.findErrorOption(exit.cause) : Option.none()
    assert.isTrue(
      Option.isSome(failure) && failure.value instanceof PlanRejected,
      `expected PlanRejected, got ${String(exit)}`
    )
    const rejected = (failure as Option.Some<PlanRejected>).value
    assert.deepStrictEqual(rejected.reasons.map((r) => r._tag).sort(), [...tags].sort(), rejected.message)
    assertUnchanged(config.runDir, before)
    return rejected
  })

const expectAccepted = (config: RunConfig, policy: ResumePolicy, from?: string) =>
  Effect.gen(function*() {
    const exit = yield* buildPlanned(config, policy, from)
    if (Exit.isFailure(exit)) assert.fail(`expected the plan to be accepted: ${Cause.pretty(exit.cause)}`)
    const plan = (exit as Exit.Success<ResumePlan | undefined>).value
    assert.isDefined(plan)
    return plan!
  })

const reason = <T extends RejectionReason["_tag"]>(rejected: PlanRejected, tag: T) =>
  rejected.reasons.find((r): r is Extract<RejectionReason, { _tag: T }> => r._tag === tag)!

/**
 * A tiny run of 16 steps that stopped right after its checkpoint at step 12 (checkpoints at 4, 8
 * and 12), as a crashed or preempted run would; returns its configuration.
 */
const trainedRun = (overrides: Record<string, unknown> = {}) =>
  Effect.gen(function*() {
    const runDir = path.join(tempDir(), "run")
    const config = yield* tinyConfig(runDir, { steps: 16, ...overrides })
    yield* Effect.scoped(Effect.gen(function*() {
      const context = yield* Layer.build(runLayer(config))
      yield* Stream.runDrain(
        Context.get(context, Trainer).events.pipe(Stream.takeUntil((e) => e._tag === "Checkpoint" && e.step === 12))
      )
    }))
    const steps = readMetrics(path.join(runDir, "metrics.jsonl")).map((r) => r.step)
    assert.strictEqual(Math.max(...steps), 12, "the run stopped after step 12")
    return config
  })

const paramCount = (config: RunConfig) => modelFromConfig(config.model).params.length

const checkpointDir = (runDir: string, step: number) =>
  path.join(runDir, "checkpoints", `step-${String(step).padStart(8, "0")}`)

/** The same run's configuration with `overrides` (encoded form) on top. */
const changed = (config: RunConfig, overrides: Record<string, unknown>) =>
  tinyConfig(config.runDir, { steps: 16, ...overrides })

// ---------------------------------------------------------------------------------------------

describe("rejected resumes leave the run untouched", () => {
  it.effect("resume step ≥ new total: continue from step 12 with steps 8 or 12", () =>
    Effect.gen(function*() {
      const config = yield* trainedRun()
      for (const steps of [8, 12]) {
        const rejected = yield* expectRejected(yield* changed(config, { steps }), presets.continue, [
          "ResumeStepBeyondTotal"
        ])
        assert.deepInclude(reason(rejected, "ResumeStepBeyondTotal"), { resumeStep: 12, totalSteps: steps })
      }
    }))

  it.effect("exact with a changed trajectory lists every changed field with its values", () =>
    Effect.gen(function*() {
      const config = yield* trainedRun()
      const next = yield* changed(config, { steps: 20, optimizer: { lr: 0.001 }, batch: { dp: 2 } })
      const rejected = yield* expectRejected(next, presets.exact, ["TrajectoryChanged", "ScheduleKeepMismatch"])
      const fields = reason(rejected, "TrajectoryChanged").fields
      // batch.dp is not part of the trajectory, so it is not listed.
      assert.deepStrictEqual(fields.map((f) => f.path).sort(), ["optimizer.lr", "steps"])
      assert.deepInclude(fields.find((f) => f.path === "steps"), { old: 16, new: 20 })
      assert.deepInclude(fields.find((f) => f.path === "optimizer.lr"), { old: 0.003, new: 0.001 })
      assert.include(rejected.message, "steps 16 → 20")
    }))

  it.effect("optimizer load with a different optimizer kind", () =>
    Effect.gen(function*() {
      const config = yield* trainedRun()
      const rejected = yield* expectRejected(yield* changed(config, { optimizer: { kind: "sgd" } }), presets.continue, [
        "OptimizerKindChanged"
      ])
      assert.deepInclude(reason(rejected, "OptimizerKindChanged"), { old: "adamw", new: "sgd" })
    }))

  it.effect("optimizer and model load with changed parameter shapes; transfer excluding them is accepted", () =>
    Effect.gen(function*() {
      const config = yield* trainedRun()
      // A larger vocabulary: the embedding and output matrices change shape, nothing else does.
      const next = yield* changed(config, { model: { vocabSize: 260 } })
      const shapes = { "tok_embeddings.weight": [[256, 16], [260, 16]], "output.weight": [[256, 16], [260, 16]] }

      const cont = yield* expectRejected(next, presets.continue, [
        "ModelShapeMismatch",
        "ModelShapeMismatch",
        "OptimizerShapesChanged"
      ])
      const optimizerTensors = reason(cont, "OptimizerShapesChanged").tensors
      assert.deepStrictEqual(
        optimizerTensors.map((t) => t.tensor).sort(),
        [
          "exp_avg.output.weight",
          "exp_avg.tok_embeddings.weight",
          "exp_avg_sq.output.weight",
          "exp_avg_sq.tok_embeddings.weight"
        ]
      )
      for (const t of optimizerTensors) {
        const [old, now] = shapes[t.tensor.replace(/^exp_avg(_sq)?\./, "") as keyof typeof shapes]
        assert.deepStrictEqual([t.old, t.new], [old, now], t.tensor)
      }

      const transfer = yield* expectRejected(next, presets.transfer, ["ModelShapeMismatch", "ModelShapeMismatch"])
      for (const r of transfer.reasons) {
        assert.strictEqual(r._tag, "ModelShapeMismatch")
        if (r._tag !== "ModelShapeMismatch") continue
        assert.deepStrictEqual([r.old, r.new], shapes[r.tensor as keyof typeof shapes], r.tensor)
        assert.include(describeReason(r), `${r.tensor} has shape [256, 16] in the source and [260, 16]`)
      }

      // The same change is fine when a transfer leaves those tensors out: they start fresh.
      const subset = { ...presets.transfer, tensors: { exclude: ["tok_embeddings.weight", "output.weight"] } }
      const plan = yield* expectAccepted(
        yield* tinyConfig(path.join(tempDir(), "tuned"), { model: { vocabSize: 260 } }),
        subset,
        checkpointDir(config.runDir, 12)
      )
      assert.deepStrictEqual([...plan.model.init].sort(), ["output.weight", "tok_embeddings.weight"])
      assert.strictEqual(plan.model.load.length, paramCount(config) - 2)
    }))

  it.effect("data load with a changed dataset: another text file, another validation fraction", () =>
    Effect.gen(function*() {
      const config = yield* trainedRun()
      const textFile = path.join(path.dirname(config.runDir), "other.txt")
      fs.writeFileSync(textFile, "It was the best of times, it was the worst of times. ".repeat(200))
      const stored = (yield* expectAccepted(config, presets.exact)).source

      const other = yield* expectRejected(yield* changed(config, { data: { source: textFile } }), presets.continue, [
        "DatasetChanged"
      ])
      const fraction = yield* expectRejected(yield* changed(config, { data: { valFraction: 0.2 } }), presets.continue, [
        "DatasetChanged"
      ])
      const a = reason(other, "DatasetChanged")
      const b = reason(fraction, "DatasetChanged")
      assert.strictEqual(a.old, b.old, "both compare against the checkpoint's fingerprint")
      assert.notStrictEqual(a.new, b.new)
      assert.notStrictEqual(a.old, a.new)
      assert.strictEqual(stored.kind, "checkpoint")
      // Under exact the source is also a trajectory change, and says so.
      const exact = yield* expectRejected(yield* changed(config, { data: { valFraction: 0.2 } }), presets.exact, [
        "TrajectoryChanged",
        "DatasetChanged"
      ])
      assert.deepStrictEqual(reason(exact, "TrajectoryChanged").fields, [{
        path: "data.valFraction",
        old: 0.1,
        new: 0.2
      }])
    }))

  it.effect("a corrupt or missing optimizer file rejects exact naming the file; a model-only transfer is accepted", () =>
    Effect.gen(function*() {
      const config = yield* trainedRun()
      const step12 = checkpointDir(config.runDir, 12)
      const optimizerFile = path.join(step12, "optimizer.safetensors")

      // One flipped byte in the tensor data: same size, different hash.
      const bytes = fs.readFileSync(optimizerFile)
      bytes[bytes.length - 3] ^= 0x40
      fs.writeFileSync(optimizerFile, bytes)
      const corrupt = yield* expectRejected(config, presets.exact, ["ComponentCorrupt"], step12)
      assert.deepInclude(reason(corrupt, "ComponentCorrupt"), {
        component: "optimizer",
        file: "optimizer.safetensors",
        reason: "HashMismatch"
      })
      assert.include(corrupt.message, "optimizer file optimizer.safetensors is unusable (HashMismatch)")

      const tuned = yield* tinyConfig(path.join(tempDir(), "tuned"))
      const plan = yield* expectAccepted(tuned, presets.transfer, step12)
      assert.strictEqual(plan.model.load.length, paramCount(config))
      assert.isTrue(plan.warnings.some((w) => w.includes("optimizer.safetensors")), plan.warnings.join("; "))

      // Without --from, the corrupt newest checkpoint is skipped: exact recovers from step 8.
      const fallback = yield* expectAccepted(config, presets.exact)
      assert.strictEqual(fallback.resumeStep, 8)

      fs.rmSync(optimizerFile)
      const missing = yield* expectRejected(config, presets.exact, ["ComponentCorrupt"], step12)
      assert.deepInclude(reason(missing, "ComponentCorrupt"), {
        component: "optimizer",
        file: "optimizer.safetensors",
        reason: "MissingFile"
      })
      yield* expectAccepted(tuned, presets.transfer, step12)
    }))

  it.effect("a corrupt model file rejects every policy that loads the model", () =>
    Effect.gen(function*() {
      const config = yield* trainedRun()
      const step12 = checkpointDir(config.runDir, 12)
      const modelFile = path.join(step12, "model.safetensors")
      const bytes = fs.readFileSync(modelFile)
      bytes[bytes.length - 1] ^= 0x01
      fs.writeFileSync(modelFile, bytes)
      const tuned = yield* tinyConfig(path.join(tempDir(), "tuned"))
      for (const policy of [presets.exact, presets.transfer]) {
        const rejected = yield* expectRejected(
          policy === presets.exact ? config : tuned,
          policy,
          ["ComponentCorrupt"],
          step12
        )
        assert.deepInclude(reason(rejected, "ComponentCorrupt"), { component: "model", file: "model.safetensors" })
      }
    }))
})

// ---------------------------------------------------------------------------------------------

const cli = (args: ReadonlyArray<string>) => {
  const result = spawnSync(process.execPath, [path.join(process.cwd(), "bin", "continuum"), ...args], {
    encoding: "utf8"
  })
  return { status: result.status, stdout: result.stdout, stderr: result.stderr }
}

describe("the command line refuses before any step", () => {
  it.effect("plan --resume exact with a changed steps exits 2 and names the field; train without --resume exits 2", () =>
    Effect.gen(function*() {
      const config = yield* trainedRun()
      const file = path.join(path.dirname(config.runDir), "config.json")
      fs.writeFileSync(file, JSON.stringify(encodeRunConfig(config)))
      const before = runDirState(config.runDir)

      const plan = cli(["plan", "--config", file, "--resume", "exact", "--set", "steps=20"])
      assert.strictEqual(plan.status, 2, plan.stderr)
      assert.include(plan.stderr + plan.stdout, "steps 16 → 20")

      const train = cli(["train", "--config", file])
      assert.strictEqual(train.status, 2, train.stderr)
      assert.include(train.stderr, "already holds")
      assertUnchanged(config.runDir, before)
    }))
})

describe("a rejected plan is printed grouped by cause", () => {
  /** The tiny run's checkpoint at step 12 and its configuration file, for `plan --config`. */
  const trainedConfigFile = Effect.gen(function*() {
    const config = yield* trainedRun()
    const file = path.join(path.dirname(config.runDir), "config.json")
    fs.writeFileSync(file, JSON.stringify(encodeRunConfig(config)))
    return { config, file }
  })

  const planRejected = (file: string, args: ReadonlyArray<string>) => {
    const result = cli(["plan", "--config", file, ...args])
    assert.strictEqual(result.status, 2, result.stderr)
    return result.stderr
  }

  it.effect("shapes: the model fields that changed them, a few tensors, the optimizer state, what to do instead", () =>
    Effect.gen(function*() {
      const { config, file } = yield* trainedConfigFile
      const before = runDirState(config.runDir)
      const text = planRejected(file, ["--resume", "continue", "--set", "model.dim=32", "--set", "model.layers=2"])
      const total = paramCount(yield* changed(config, { model: { dim: 32, layers: 2 } }))
      assert.include(text, `(1 cause, ${total + 1} reasons)`)
      assert.include(
        text,
        `1. model.dim 16 → 32 and model.layers 1 → 2 change the shapes of ${total} of ${total} tensors ` +
          "(tok_embeddings.weight [256, 16] → [256, 32], layers.0.attention_norm.weight [16] → [32], … --verbose lists all)" +
          `; so the optimizer state of ${2 * total} tensors cannot be loaded either`
      )
      assert.include(text, "instead: no tensor of the source fits the new model: start it fresh in a new runDir")
      assert.include(text, "instead: resume with model.dim 16 and model.layers 1")
      // One line per cause and suggestion, not one per tensor.
      assert.notInclude(text, "layers.0.attention.wq.weight")
      assert.isBelow(text.trim().split("\n").length, 6)
      assertUnchanged(config.runDir, before)
    }))

  it.effect("--verbose lists every tensor and every optimizer state tensor under its cause", () =>
    Effect.gen(function*() {
      const { config, file } = yield* trainedConfigFile
      const next = yield* changed(config, { model: { dim: 32, layers: 2 } })
      const text = planRejected(file, [
        "--resume",
        "continue",
        "--verbose",
        "--set",
        "model.dim=32",
        "--set",
        "model.layers=2"
      ])
      assert.notInclude(text, "--verbose lists all")
      const params = modelFromConfig(next.model).params
      const oldShapes = new Map(modelFromConfig(config.model).params.map((p) => [p.name, p.shape]))
      for (const p of params) {
        const old = oldShapes.get(p.name)
        const line = old === undefined
          ? `${p.name} [${p.shape.join(", ")}] not in the source`
          : `${p.name} [${old.join(", ")}] → [${p.shape.join(", ")}]`
        assert.include(text, `\n       ${line}\n`, p.name)
        for (const prefix of ["exp_avg", "exp_avg_sq"]) assert.include(text, `${prefix}.${p.name} `, p.name)
      }
      // The same text the train command prints, with the same exit code.
      const train = cli(["train", "--config", file, "--resume", "continue", "--verbose", "--set", "model.dim=32"])
      assert.strictEqual(train.status, 2, train.stderr)
      assert.include(train.stderr, "\n       tok_embeddings.weight [256, 16] → [256, 32]\n")
    }))

  it.effect("optimizer: another kind names the field and the policy that accepts it", () =>
    Effect.gen(function*() {
      const { file } = yield* trainedConfigFile
      const text = planRejected(file, ["--resume", "continue", "--set", "optimizer.kind=sgd"])
      assert.include(text, "(1 cause, 1 reason)")
      assert.include(text, "1. optimizer.kind adamw → sgd: the stored adamw state cannot drive sgd")
      assert.include(
        text,
        `instead: a policy file with "optimizer": "reset" (the new optimizer starts fresh): ` +
          `{"model":"load","optimizer":"reset","data":"load","step":"keep","schedule":"extend"}`
      )
      assert.include(text, `instead: resume with optimizer.kind "adamw"`)
    }))

  it.effect("data: the fields behind a changed dataset fingerprint, and data reset instead", () =>
    Effect.gen(function*() {
      const { file } = yield* trainedConfigFile
      const text = planRejected(file, ["--resume", "continue", "--set", "data.valFraction=0.2", "--set", "seed=9"])
      assert.include(text, "(1 cause, 2 reasons)")
      assert.match(
        text,
        /1\. data\.valFraction 0\.1 → 0\.2 changes the dataset \(fingerprint [0-9a-f]{12} → [0-9a-f]{12}\): the stored data cursor would point at other samples; seed 7 → 9 changes the sample permutation the stored cursor indexes\n/
      )
      assert.include(
        text,
        `instead: a policy with "data": "reset" reads the new data from sample 0 (e.g. --resume transfer`
      )
      assert.include(text, "instead: resume with data.valFraction 0.1 and seed 7")
    }))
})
