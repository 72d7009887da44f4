import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { CheckpointState } from "../../src/checkpoint/checkpointState.ts"
import { Manifest, sealManifest } from "../../src/checkpoint/manifest.ts"
import { encodeRunConfig } from "../../src/config/loadConfig.ts"
import { RunConfig } from "../../src/config/RunConfig.ts"
import { modelFromConfig } from "../../src/model/fromConfig.ts"
import { lr, resolveSchedule } from "../../src/optim/schedule.ts"
import { modelFingerprint, trajectoryFingerprint } from "../../src/resume/fingerprints.ts"
import {
  planFromJson,
  type PlanRejected,
  planToJson,
  type RejectionReason,
  type ResumePlan
} from "../../src/resume/plan.ts"
import {
  type CheckpointSource,
  globMatcher,
  type PlanInput,
  planResume,
  selectTensors,
  type WeightsSource
} from "../../src/resume/planner.ts"
import { presets, type ResumePolicy } from "../../src/resume/policy.ts"
import { renderPlan } from "../../src/resume/renderPlan.ts"
import { renderRejection } from "../../src/resume/renderRejection.ts"

// ---------------------------------------------------------------------------------------------
// Fixtures: configurations, and checkpoints as the trainer writes them, built in memory

const DATA = "d".repeat(64)

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v)

const merge = (base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> => {
  const out: Record<string, unknown> = { ...base }
  for (const [key, value] of Object.entries(over)) {
    out[key] = isObject(value) && isObject(out[key]) ? merge(out[key] as Record<string, unknown>, value) : value
  }
  return out
}

/** The reference configuration (with μ = 8, so P can change), plus overrides in encoded form. */
const BASE = { runDir: "runs/a", batch: { global: 16, micro: 8, dp: 1 } }
const config = (over: Record<string, unknown> = {}): RunConfig => Schema.decodeUnknownSync(RunConfig)(merge(BASE, over))

const shapesOf = (c: RunConfig): Record<string, Array<number>> =>
  Object.fromEntries(modelFromConfig(c.model).params.map((p) => [p.name, [...p.shape]]))

const optimizerShapesOf = (c: RunConfig): Record<string, Array<number>> => {
  const prefixes = c.optimizer.kind === "adamw" ? ["exp_avg", "exp_avg_sq"] : ["momentum_buffer"]
  const out: Record<string, Array<number>> = {}
  for (const prefix of prefixes) {
    for (const p of modelFromConfig(c.model).params) out[`${prefix}.${p.name}`] = [...p.shape]
  }
  return out
}

/** A checkpoint after `k` uninterrupted updates of a run configured as `c`. */
const checkpoint = (c: RunConfig, k: number, problems: CheckpointSource["problems"] = []): CheckpointSource => {
  const schedule = resolveSchedule(c.schedule, c.optimizer.lr, c.steps)
  const B = c.batch.global
  const state: CheckpointState = {
    step: k,
    schedule,
    data: {
      cursor: k * B,
      fingerprint: DATA,
      source: c.data.source,
      seqLen: c.model.seqLen,
      seed: c.seed,
      geometry: { global: B, micro: c.batch.micro, dp: c.batch.dp === "auto" ? 1 : c.batch.dp }
    },
    optimizer: {
      kind: c.optimizer.kind,
      step: k,
      lr: lr(schedule, k - 1),
      betas: c.optimizer.betas,
      eps: c.optimizer.eps,
      weightDecay: c.optimizer.weightDecay,
      momentum: c.optimizer.momentum,
      nesterov: c.optimizer.nesterov
    },
    rng: { seed: c.seed, sampleCounter: k * B },
    tokensSeen: k * B * c.model.seqLen,
    samplesSeen: k * B
  }
  const manifest = Schema.decodeUnknownSync(Manifest)(sealManifest({
    format: "continuum-checkpoint",
    version: 1,
    runId: "run-a",
    step: k,
    time: "2025-01-01T00:00:00.000Z",
    config: JSON.parse(JSON.stringify(encodeRunConfig(c))),
    fingerprints: { trajectory: trajectoryFingerprint(c), dataset: DATA, model: modelFingerprint(c.model) },
    components: {
      model: { file: "model.safetensors", bytes: 1000, sha256: "a".repeat(64), tensors: shapesOf(c) },
      optimizer: { file: "optimizer.safetensors", bytes: 2000, sha256: "b".repeat(64), tensors: optimizerShapesOf(c) }
    },
    state: JSON.parse(JSON.stringify(Schema.encodeSync(CheckpointState)(state)))
  }))
  return { kind: "checkpoint", location: `runs/a/checkpoints/step-${String(k).padStart(8, "0")}`, manifest, problems }
}

const weights = (shapes: Record<string, ReadonlyArray<number>>): WeightsSource => ({
  kind: "weights",
  file: "pretrained.safetensors",
  shapes
})

const input = (
  policy: ResumePolicy,
  source: PlanInput["source"],
  next: RunConfig,
  dataFingerprint = DATA
): PlanInput => ({
  policy,
  source,
  config: next,
  dataFingerprint
})

const rejected = (i: PlanInput): Effect.Effect<PlanRejected, ResumePlan> => Effect.flip(planResume(i))

const tags = (e: PlanRejected): Array<string> => e.reasons.map((r) => r._tag).sort()

const reason = <T extends RejectionReason["_tag"]>(e: PlanRejected, tag: T): Extract<RejectionReason, { _tag: T }> => {
  const found = e.reasons.find((r) => r._tag === tag)
  if (found === undefined) throw new Error(`no ${tag} among ${tags(e).join(", ")}`)
  return found as Extract<RejectionReason, { _tag: T }>
}

const old600 = config()
const paramNames = Object.keys(shapesOf(old600))

// ---------------------------------------------------------------------------------------------

describe("exact", () => {
  it.effect("an unchanged configuration loads everything and continues at the checkpoint's step", () =>
    Effect.gen(function*() {
      const plan = yield* planResume(input(presets.exact, checkpoint(old600, 300), old600))
      assert.strictEqual(plan.policyName, "exact")
      assert.strictEqual(plan.resumeStep, 300)
      assert.strictEqual(plan.startStep, 300)
      assert.deepStrictEqual(plan.step, { action: "keep", start: 300 })
      assert.deepStrictEqual(plan.model.load, paramNames)
      assert.deepStrictEqual(plan.model.init, [])
      assert.deepStrictEqual(plan.optimizer, { action: "load", kind: "adamw", step: 300 })
      assert.strictEqual(plan.schedule.action, "keep")
      assert.strictEqual(plan.schedule.lrBefore, 3e-3)
      assert.strictEqual(plan.schedule.lrAfter, 3e-3)
      assert.deepStrictEqual(plan.data, { action: "load", cursor: 4800, samplesSeen: 4800, tokensSeen: 4800 * 64 })
      assert.deepStrictEqual(plan.changedFields, [])
      assert.deepStrictEqual(plan.warnings, [])
    }))

  it.effect("accepts changes of P, evaluation, checkpointing and runDir, and lists them as non-trajectory", () =>
    Effect.gen(function*() {
      const next = config({
        runDir: "runs/b",
        batch: { dp: 2 },
        eval: { every: 50, batches: 4 },
        checkpoint: { every: 25, keepLatest: 5, async: false }
      })
      const plan = yield* planResume(input(presets.exact, checkpoint(old600, 300), next))
      assert.strictEqual(plan.startStep, 300)
      assert.deepStrictEqual(
        plan.changedFields.map((c) => [c.path, c.old, c.new, c.trajectory]),
        [
          ["runDir", "runs/a", "runs/b", false],
          ["batch.dp", 1, 2, false],
          ["eval.every", 100, 50, false],
          ["eval.batches", 20, 4, false],
          ["checkpoint.every", 100, 25, false],
          ["checkpoint.keepLatest", 3, 5, false],
          ["checkpoint.async", true, false, false]
        ]
      )
      assert.strictEqual(plan.warnings.length, 1)
      assert.include(plan.warnings[0], "do not affect the trajectory")
      assert.include(plan.warnings[0], "batch.dp 1 → 2")
    }))

  it.effect("rejects trajectory changes, listing every changed field with old and new values", () =>
    Effect.gen(function*() {
      const next = config({
        batch: { micro: 4 },
        kernels: { backend: "gpujs" },
        optimizer: { betas: [0.9, 0.99] },
        eval: { every: 10 }
      })
      const e = yield* rejected(input(presets.exact, checkpoint(old600, 300), next))
      assert.deepStrictEqual(tags(e), ["TrajectoryChanged"])
      assert.deepStrictEqual(reason(e, "TrajectoryChanged").fields, [
        { path: "batch.micro", old: 8, new: 4 },
        { path: "optimizer.betas", old: [0.9, 0.95], new: [0.9, 0.99] },
        { path: "kernels.backend", old: "cpu", new: "gpujs" }
      ])
      assert.include(e.message, "batch.micro 8 → 4")
      assert.include(e.message, "kernels.backend \"cpu\" → \"gpujs\"")
    }))

  it.effect("a changed total is both a trajectory change and a schedule keep mismatch", () =>
    Effect.gen(function*() {
      const e = yield* rejected(input(presets.exact, checkpoint(old600, 300), config({ steps: 900 })))
      assert.deepStrictEqual(tags(e), ["ScheduleKeepMismatch", "TrajectoryChanged"])
      assert.deepStrictEqual(reason(e, "ScheduleKeepMismatch").differences, [
        { field: "totalSteps", old: 600, new: 900 },
        { field: "warmupSteps", old: 50, new: 75 },
        { field: "decaySteps", old: 120, new: 180 }
      ])
      assert.include(
        renderRejection(e),
        "schedule keep at step 300: the configured schedule changed (totalSteps 600 → 900"
      )
    }))

  it.effect("rejects a manifest whose trajectory fingerprint does not match its configuration", () =>
    Effect.gen(function*() {
      const source = checkpoint(old600, 300)
      const tampered: CheckpointSource = {
        ...source,
        manifest: { ...source.manifest, fingerprints: { ...source.manifest.fingerprints, trajectory: "f".repeat(64) } }
      }
      const e = yield* rejected(input(presets.exact, tampered, old600))
      assert.deepStrictEqual(tags(e), ["TrajectoryFingerprintMismatch"])
      assert.strictEqual(reason(e, "TrajectoryFingerprintMismatch").computed, trajectoryFingerprint(old600))
    }))
})

describe("continue", () => {
  it.effect("steps 600 → 900 extends the schedule without an LR jump", () =>
    Effect.gen(function*() {
      const next = config({ steps: 900 })
      const plan = yield* planResume(input(presets.continue, checkpoint(old600, 300), next))
      assert.strictEqual(plan.schedule.action, "extend")
      assert.strictEqual(plan.schedule.lrAfter, plan.schedule.lrBefore)
      assert.strictEqual(plan.schedule.jumpRatio, 1)
      assert.strictEqual(plan.startStep, 300)
      assert.strictEqual(plan.totalSteps, 900)
      assert.closeTo(lr(plan.schedule.schedule, 900), 3e-4, 1e-15)
      assert.isAbove(lr(plan.schedule.schedule, 719), lr(plan.schedule.schedule, 730))
      // The default warm-up is a fraction: compared as the steps it resolves to (past them here).
      assert.deepStrictEqual(plan.changedFields, [
        { path: "steps", old: 600, new: 900, trajectory: true },
        { path: "schedule.warmupSteps", old: 50, new: 75, trajectory: true }
      ])
    }))

  it.effect("a doubled global batch keeps the sample cursor and explains the new step↔sample mapping", () =>
    Effect.gen(function*() {
      const plan = yield* planResume(
        input(presets.continue, checkpoint(old600, 300), config({ batch: { global: 32 } }))
      )
      assert.strictEqual(plan.data.action, "load")
      assert.strictEqual(plan.data.cursor, 4800)
      assert.strictEqual(plan.data.samplesSeen, 4800)
      assert.isDefined(plan.data.note)
      assert.include(plan.data.note!, "step s now starts at sample 4800 + (s − 301)·32")
      assert.include(plan.data.note!, "batch.global 16 → 32")
    }))

  it.effect("more ranks under exact: the same samples per step, the new sharing of micro-batches stated", () =>
    Effect.gen(function*() {
      const next = config({ batch: { dp: 2 } })
      const plan = yield* planResume({ ...input(presets.exact, checkpoint(old600, 300), next), ranks: 2 })
      assert.strictEqual(plan.data.cursor, 4800)
      assert.strictEqual(
        plan.data.note,
        "ranks 1 → 2, accumulation 2 → 1: each step's 2 micro-batches of 8 samples are shared out as " +
          "j = r, r + 2, … to rank r; the step gradient stays their sum in order of j"
      )
      // The same ranks: nothing to state.
      const same = yield* planResume({ ...input(presets.exact, checkpoint(old600, 300), old600), ranks: 1 })
      assert.isUndefined(same.data.note)
    }))

  it.effect("warns about changes continue does not expect, without rejecting them", () =>
    Effect.gen(function*() {
      const plan = yield* planResume(
        input(presets.continue, checkpoint(old600, 300), config({ model: { ropeTheta: 500 } }))
      )
      assert.isTrue(plan.warnings.some((w) => w.includes("also changed: model.ropeTheta 10000 → 500")))
    }))

  it.effect("rejects a resume step at or past the new total", () =>
    Effect.gen(function*() {
      const e = yield* rejected(input(presets.continue, checkpoint(old600, 300), config({ steps: 300 })))
      assert.deepStrictEqual(tags(e), ["ResumeStepBeyondTotal"])
      assert.deepStrictEqual(reason(e, "ResumeStepBeyondTotal"), {
        _tag: "ResumeStepBeyondTotal",
        resumeStep: 300,
        totalSteps: 300
      })
    }))

  it.effect("a resume step past the new total is fine when the step is reset", () =>
    Effect.gen(function*() {
      const plan = yield* planResume(input(presets.transfer, checkpoint(old600, 500), config({ steps: 100 })))
      assert.strictEqual(plan.startStep, 0)
      assert.strictEqual(plan.resumeStep, 500)
      assert.strictEqual(plan.schedule.action, "restart")
      assert.strictEqual(plan.schedule.lrAfter, lr(plan.schedule.schedule, 0))
    }))
})

describe("schedule reconciliation", () => {
  const rebuild = { ...presets.continue, schedule: "rebuild" } as const satisfies ResumePolicy

  it.effect("rebuild with an LR jump is rejected without allowDiscontinuity, naming the jump", () =>
    Effect.gen(function*() {
      const e = yield* rejected(input(rebuild, checkpoint(old600, 500), config({ steps: 900 })))
      assert.deepStrictEqual(tags(e), ["ScheduleDiscontinuity"])
      const jump = reason(e, "ScheduleDiscontinuity")
      assert.strictEqual(jump.resumeStep, 500)
      assert.strictEqual(jump.lrAfter, 3e-3)
      assert.closeTo(jump.lrBefore, 0.00255, 1e-12)
      assert.closeTo(jump.jumpRatio, 3e-3 / 0.00255, 1e-9)
      assert.include(e.message, "schedule rebuild at step 500 moves the LR")
    }))

  it.effect("rebuild with allowDiscontinuity is accepted and reports the ratio", () =>
    Effect.gen(function*() {
      const plan = yield* planResume(
        input({ ...rebuild, allowDiscontinuity: true }, checkpoint(old600, 500), config({ steps: 900 }))
      )
      assert.strictEqual(plan.schedule.action, "rebuild")
      assert.closeTo(plan.schedule.jumpRatio!, 3e-3 / 0.00255, 1e-9)
      assert.include(renderPlan(plan), "jump ×1.17647")
    }))

  it.effect("rebuild within a custom tolerance is accepted", () =>
    Effect.gen(function*() {
      const plan = yield* planResume(
        input({ ...rebuild, tolerance: 0.2 }, checkpoint(old600, 500), config({ steps: 900 }))
      )
      assert.isAbove(plan.schedule.jumpRatio!, 1.17)
    }))

  it.effect("a rewarm that cannot fit is rejected with its reason", () =>
    Effect.gen(function*() {
      const policy = { ...presets.continue, schedule: "rewarm" } as const satisfies ResumePolicy
      const e = yield* rejected(input(policy, checkpoint(old600, 300), config({ schedule: { warmupSteps: 0 } })))
      assert.deepStrictEqual(tags(e), ["RewarmDoesNotFit"])
      assert.include(e.message, "schedule rewarm at step 300 with schedule.warmupSteps = 0")
    }))
})

describe("optimizer", () => {
  it.effect("load with a different optimizer kind is rejected", () =>
    Effect.gen(function*() {
      const e = yield* rejected(
        input(presets.continue, checkpoint(old600, 300), config({ optimizer: { kind: "sgd" } }))
      )
      assert.deepStrictEqual(tags(e), ["OptimizerKindChanged"])
      assert.deepStrictEqual(reason(e, "OptimizerKindChanged"), {
        _tag: "OptimizerKindChanged",
        old: "adamw",
        new: "sgd"
      })
    }))

  it.effect("load with changed parameter shapes is rejected for the optimizer and the model", () =>
    Effect.gen(function*() {
      const e = yield* rejected(input(presets.continue, checkpoint(old600, 300), config({ model: { ffnDim: 128 } })))
      assert.include(tags(e), "OptimizerShapesChanged")
      const changed = reason(e, "OptimizerShapesChanged").tensors
      assert.deepInclude(changed, { tensor: "exp_avg.layers.0.feed_forward.w1.weight", old: [176, 64], new: [128, 64] })
      assert.strictEqual(changed.length, 2 * 2 * 3) // two moments × two layers × w1, w2, w3
      const model = e.reasons.filter((r) => r._tag === "ModelShapeMismatch")
      assert.strictEqual(model.length, 6)
      assert.deepInclude(model, {
        _tag: "ModelShapeMismatch",
        tensor: "layers.1.feed_forward.w2.weight",
        old: [64, 176],
        new: [64, 128]
      })
    }))

  it.effect("load with model init is rejected", () =>
    Effect.gen(function*() {
      const policy = { ...presets.continue, model: "init" } as const satisfies ResumePolicy
      const e = yield* rejected(input(policy, checkpoint(old600, 300), old600))
      assert.deepStrictEqual(tags(e), ["OptimizerLoadWithModelInit"])
    }))

  it.effect("load with tensors excluded from the model load is rejected", () =>
    Effect.gen(function*() {
      const policy: ResumePolicy = { ...presets.continue, tensors: { exclude: ["output.weight"] } }
      const e = yield* rejected(input(policy, checkpoint(old600, 300), old600))
      assert.deepStrictEqual(reason(e, "OptimizerLoadWithFreshTensors").tensors, ["output.weight"])
    }))
})

describe("data", () => {
  it.effect("load with a changed dataset fingerprint is rejected", () =>
    Effect.gen(function*() {
      const e = yield* rejected(input(presets.continue, checkpoint(old600, 300), old600, "e".repeat(64)))
      assert.deepStrictEqual(tags(e), ["DatasetChanged"])
      assert.deepStrictEqual(reason(e, "DatasetChanged"), { _tag: "DatasetChanged", old: DATA, new: "e".repeat(64) })
    }))

  it.effect("load with a changed seed is rejected", () =>
    Effect.gen(function*() {
      const e = yield* rejected(input(presets.continue, checkpoint(old600, 300), config({ seed: 7 })))
      assert.deepStrictEqual(tags(e), ["DataSeedChanged"])
      assert.deepStrictEqual(reason(e, "DataSeedChanged"), { _tag: "DataSeedChanged", old: 1234, new: 7 })
    }))

  it.effect("reset starts at sample 0 and drops the counters with the step", () =>
    Effect.gen(function*() {
      const plan = yield* planResume(
        input(presets.transfer, checkpoint(old600, 300), config({ seed: 7 }), "e".repeat(64))
      )
      assert.deepStrictEqual(plan.data, { action: "reset", cursor: 0, samplesSeen: 0, tokensSeen: 0 })
    }))
})

describe("policy pairing", () => {
  it.effect("step reset with a continuing schedule is rejected even when the type is bypassed", () =>
    Effect.gen(function*() {
      const policy: any = { ...presets.transfer, schedule: "extend" }
      const e = yield* rejected(input(policy, checkpoint(old600, 300), old600))
      assert.deepStrictEqual(reason(e, "StepScheduleMismatch"), {
        _tag: "StepScheduleMismatch",
        step: "reset",
        schedule: "extend"
      })
    }))

  it.effect("restart with step keep is rejected even when the type is bypassed", () =>
    Effect.gen(function*() {
      const policy: any = { ...presets.exact, schedule: "restart" }
      const e = yield* rejected(input(policy, checkpoint(old600, 300), old600))
      assert.deepStrictEqual(reason(e, "StepScheduleMismatch"), {
        _tag: "StepScheduleMismatch",
        step: "keep",
        schedule: "restart"
      })
    }))

  it.effect("an unknown action is rejected naming the field", () =>
    Effect.gen(function*() {
      const policy: any = { ...presets.exact, model: "copy" }
      const e = yield* rejected(input(policy, checkpoint(old600, 300), old600))
      assert.deepStrictEqual(reason(e, "InvalidPolicy"), {
        _tag: "InvalidPolicy",
        field: "model",
        value: "\"copy\"",
        expected: "load | init"
      })
    }))
})

describe("weights file", () => {
  it.effect("optimizer, data and schedule cannot be loaded from a weights file", () =>
    Effect.gen(function*() {
      const e = yield* rejected(input(presets.continue, weights(shapesOf(old600)), old600))
      assert.deepStrictEqual(
        e.reasons.filter((r) => r._tag === "ComponentNotInWeights").map((r) => r.component).sort(),
        [
          "data",
          "optimizer",
          "schedule"
        ]
      )
      assert.include(e.message, "pretrained.safetensors holds weights only")
    }))

  it.effect("transfer with exclude patterns leaves the excluded tensors to init", () =>
    Effect.gen(function*() {
      const policy: ResumePolicy = {
        ...presets.transfer,
        tensors: { exclude: ["output.weight", "layers.*.ffn_norm.weight"] }
      }
      const plan = yield* planResume(input(policy, weights(shapesOf(old600)), config({ steps: 200 })))
      assert.deepStrictEqual(plan.model.init, ["layers.0.ffn_norm.weight", "layers.1.ffn_norm.weight", "output.weight"])
      assert.strictEqual(plan.model.load.length, paramNames.length - 3)
      assert.deepStrictEqual(plan.source, { kind: "weights", file: "pretrained.safetensors" })
      assert.strictEqual(plan.resumeStep, 0)
      assert.strictEqual(plan.startStep, 0)
      assert.strictEqual(plan.schedule.lrBefore, null)
      assert.strictEqual(plan.schedule.jumpRatio, null)
      assert.deepStrictEqual(plan.optimizer, { action: "reset", kind: "adamw", step: 0 })
      assert.deepStrictEqual(plan.changedFields, [])
    }))

  it.effect("transfer with an excluded mismatching tensor is accepted", () =>
    Effect.gen(function*() {
      const next = config({ model: { vocabSize: 300 } })
      const policy: ResumePolicy = {
        ...presets.transfer,
        tensors: { exclude: ["tok_embeddings.weight", "output.weight"] }
      }
      const plan = yield* planResume(input(policy, weights(shapesOf(old600)), next))
      assert.deepStrictEqual(plan.model.init, ["tok_embeddings.weight", "output.weight"])
    }))

  it.effect("strict transfer with a shape mismatch is rejected, naming tensor and shapes", () =>
    Effect.gen(function*() {
      const e = yield* rejected(
        input(presets.transfer, weights(shapesOf(old600)), config({ model: { vocabSize: 300 } }))
      )
      assert.deepStrictEqual(e.reasons, [
        { _tag: "ModelShapeMismatch", tensor: "tok_embeddings.weight", old: [256, 64], new: [300, 64] },
        { _tag: "ModelShapeMismatch", tensor: "output.weight", old: [256, 64], new: [300, 64] }
      ])
    }))

  it.effect("non-strict transfer initializes mismatching and missing tensors fresh, with a warning", () =>
    Effect.gen(function*() {
      const shapes = shapesOf(old600)
      delete shapes["norm.weight"]
      const policy: ResumePolicy = { ...presets.transfer, tensors: { strict: false } }
      const plan = yield* planResume(input(policy, weights(shapes), config({ model: { vocabSize: 300 } })))
      assert.deepStrictEqual(plan.model.init, ["tok_embeddings.weight", "norm.weight", "output.weight"])
      assert.strictEqual(plan.model.load.length, paramNames.length - 3)
      const warning = plan.warnings.find((w) => w.startsWith("non-strict selection"))
      assert.isDefined(warning)
      assert.include(warning!, "tok_embeddings.weight ([256, 64] in the source, [300, 64] now)")
      assert.include(warning!, "norm.weight (not in the source)")
    }))

  it.effect("strict transfer with a missing tensor is rejected", () =>
    Effect.gen(function*() {
      const shapes = shapesOf(old600)
      delete shapes["norm.weight"]
      const e = yield* rejected(input(presets.transfer, weights(shapes), old600))
      assert.deepStrictEqual(e.reasons, [{ _tag: "ModelTensorMissing", tensor: "norm.weight", shape: [64] }])
    }))

  it.effect("source tensors the new model does not have are reported, not loaded", () =>
    Effect.gen(function*() {
      const plan = yield* planResume(
        input(presets.transfer, weights({ ...shapesOf(old600), "extra.bias": [3] }), old600)
      )
      assert.isTrue(plan.warnings.some((w) => w.includes("not loaded): extra.bias")))
    }))
})

describe("verification problems", () => {
  const corrupt = (file: string) => [{ file, reason: "HashMismatch", detail: "sha256 differs" }]

  it.effect("a corrupt model file rejects any plan that loads the model", () =>
    Effect.gen(function*() {
      const e = yield* rejected(input(presets.transfer, checkpoint(old600, 300, corrupt("model.safetensors")), old600))
      assert.deepStrictEqual(e.reasons, [
        {
          _tag: "ComponentCorrupt",
          component: "model",
          file: "model.safetensors",
          reason: "HashMismatch",
          detail: "sha256 differs"
        }
      ])
    }))

  it.effect("a corrupt optimizer file matters only to optimizer load", () =>
    Effect.gen(function*() {
      const source = checkpoint(old600, 300, corrupt("optimizer.safetensors"))
      const plan = yield* planResume(input(presets.transfer, source, old600))
      assert.isTrue(plan.warnings.some((w) => w.includes("optimizer.safetensors is unusable (HashMismatch")))
      const e = yield* rejected(input(presets.exact, source, old600))
      assert.deepStrictEqual(tags(e), ["ComponentCorrupt"])
      assert.include(e.message, "optimizer file optimizer.safetensors is unusable (HashMismatch)")
    }))

  it.effect("a model file problem does not matter to model init", () =>
    Effect.gen(function*() {
      const policy = { ...presets.transfer, model: "init" } as const satisfies ResumePolicy
      const plan = yield* planResume(input(policy, checkpoint(old600, 300, corrupt("model.safetensors")), old600))
      assert.deepStrictEqual(plan.model.load, [])
      assert.strictEqual(plan.model.init.length, paramNames.length)
    }))

  it.effect("an undecodable state rejects the plans that need it", () =>
    Effect.gen(function*() {
      const source = checkpoint(old600, 300)
      const broken: CheckpointSource = { ...source, manifest: { ...source.manifest, state: { step: 300 } } }
      const e = yield* rejected(input(presets.continue, broken, old600))
      assert.deepStrictEqual(tags(e), ["CheckpointStateInvalid"])
      const plan = yield* planResume(input(presets.transfer, broken, old600))
      assert.strictEqual(plan.schedule.lrBefore, null)
    }))
})

describe("collecting reasons", () => {
  it.effect("every applicable reason is reported at once", () =>
    Effect.gen(function*() {
      const next = config({ steps: 200, seed: 9, optimizer: { kind: "sgd" }, model: { dim: 32 } })
      const e = yield* rejected(
        input(
          presets.exact,
          checkpoint(old600, 300, [{ file: "model.safetensors", reason: "MissingFile", detail: "absent" }]),
          next,
          "0".repeat(64)
        )
      )
      for (
        const tag of [
          "ComponentCorrupt",
          "TrajectoryChanged",
          "ModelShapeMismatch",
          "OptimizerKindChanged",
          "DatasetChanged",
          "DataSeedChanged",
          "ResumeStepBeyondTotal"
        ]
      ) assert.include(tags(e), tag)
      // Grouped by cause: schedule (steps), model shapes, optimizer kind, data seed, and the corrupt file.
      const rendered = renderRejection(e)
      assert.include(rendered, `rejected (5 causes, ${e.reasons.length} reasons)`)
      assert.strictEqual(rendered.split("\n").filter((line) => /^ {2}\d+\. /.test(line)).length, 5)
      assert.include(rendered, "seed 1234 → 9")
    }))
})

describe("plan data", () => {
  it.effect("a plan round-trips through JSON, an infinite jump ratio included", () =>
    Effect.gen(function*() {
      // With a zero floor the old schedule has reached LR 0 at its end; a rebuild jumps from 0.
      const old = config({ schedule: { minLrFactor: 0 } })
      const policy: ResumePolicy = { ...presets.continue, schedule: "rebuild", allowDiscontinuity: true }
      const plan = yield* planResume(
        input(policy, checkpoint(old, 600), config({ steps: 900, schedule: { minLrFactor: 0 } }))
      )
      assert.strictEqual(plan.schedule.lrBefore, 0)
      assert.strictEqual(plan.schedule.jumpRatio, Infinity)
      const json = planToJson(plan)
      const back: ResumePlan = planFromJson(JSON.parse(JSON.stringify(json)))
      assert.deepStrictEqual(back, plan)
      assert.include(renderPlan(plan), "jump ×∞")
    }))

  it.effect("renderPlan shows every component, the LR, the cursor, changes and warnings", () =>
    Effect.gen(function*() {
      const plan = yield* planResume(
        input(
          presets.continue,
          checkpoint(old600, 300),
          config({ steps: 900, batch: { global: 32 }, eval: { every: 50 } })
        )
      )
      const text = renderPlan(plan)
      for (
        const expected of [
          "policy continue",
          "source: checkpoint runs/a/checkpoints/step-00000300 (run run-a, step 300)",
          "model      load      21 parameters loaded, 0 initialized fresh",
          "optimizer  load      adamw, state after 300 updates",
          "schedule   extend    lr at step 300: 0.003 before → 0.003 after",
          "data       load      cursor at sample 4800",
          "step s now starts at sample 4800",
          "step       keep      next update is step 301 of 900",
          "steps                 600 → 900  [trajectory]",
          "schedule.warmupSteps  50 → 75  [trajectory]",
          "eval.every            100 → 50\n",
          "warnings:",
          "do not affect the trajectory: eval.every 100 → 50"
        ]
      ) assert.include(text, expected)
      assert.notInclude(text, "jump ×")
    }))
})

describe("tensor selection", () => {
  it("globs match whole names, with * spanning dots", () => {
    assert.isTrue(globMatcher("layers.*.attention.*")("layers.10.attention.wq.weight"))
    assert.isFalse(globMatcher("layers.*.attention.*")("xlayers.1.attention.wq.weight"))
    assert.isTrue(globMatcher("*")("anything.at.all"))
    assert.isFalse(globMatcher("norm.weight")("normxweight"))
    assert.isTrue(globMatcher("a+b(c)")("a+b(c)"))
  })

  it("include then exclude, reporting patterns that match nothing", () => {
    const names = ["tok_embeddings.weight", "layers.0.ffn_norm.weight", "norm.weight", "output.weight"]
    const s = selectTensors(names, { include: ["*.weight", "nothing*"], exclude: ["*norm*", "typo"] })
    assert.deepStrictEqual(s.selected, ["tok_embeddings.weight", "output.weight"])
    assert.deepStrictEqual(s.excluded, ["layers.0.ffn_norm.weight", "norm.weight"])
    assert.deepStrictEqual(s.unmatched, [{ list: "include", pattern: "nothing*" }, {
      list: "exclude",
      pattern: "typo"
    }])
  })
})
