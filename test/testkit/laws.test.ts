/**
 * The resume test kit's policy laws: on the default run composition they hold for every policy
 * (also over random stop points and policies); on deliberately broken compositions each law fails
 * with the typed error that names the law, the step and the field.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import fc from "fast-check"
import { presets, type ResumePolicy } from "../../src/resume/policy.ts"
import { checkPolicyLaws, type ConfigChanges, type PolicyLawViolated } from "../../src/testkit/index.ts"
import { expectFailure, kitConfig, tampered } from "../support/testkitSetup.ts"

/** Policies with configuration changes each accepts from any k in [1, 11] of a 12-step run. */
const policyCases: ReadonlyArray<
  { readonly name: string; readonly policy: ResumePolicy; readonly changes: ConfigChanges }
> = [
  { name: "exact", policy: presets.exact, changes: { "batch.dp": 2 } },
  { name: "continue, longer", policy: presets.continue, changes: { steps: 20 } },
  { name: "continue, B doubled", policy: presets.continue, changes: { steps: 16, "batch.global": 8 } },
  {
    name: "rewarm to a new peak",
    policy: { ...presets.continue, schedule: "rewarm" },
    changes: { steps: 24, "optimizer.lr": 0.002, "schedule.warmupSteps": 2 }
  },
  {
    name: "rebuild, jump allowed",
    policy: { ...presets.continue, schedule: "rebuild", allowDiscontinuity: true },
    changes: { steps: 30 }
  },
  { name: "optimizer reset, extend", policy: { ...presets.continue, optimizer: "reset" }, changes: { steps: 18 } },
  {
    name: "transfer without output.weight",
    policy: { ...presets.transfer, tensors: { exclude: ["output.weight"] } },
    changes: { steps: 6, "optimizer.lr": 0.001 }
  },
  {
    name: "model init, data kept",
    policy: { model: "init", optimizer: "reset", schedule: "restart", data: "load", step: "reset" },
    changes: {}
  }
]

describe("checkPolicyLaws", () => {
  it.effect.each(policyCases)("the laws hold for $name", ({ policy, changes }) =>
    Effect.gen(function*() {
      const report = yield* checkPolicyLaws({ config: yield* kitConfig(), policy, changes, stopAt: [5] })
      assert.strictEqual(report.stopPoints[0]!.lrAfter >= 0, true)
    }))

  it.effect("the laws hold on the default composition for random stop points and policies", () =>
    Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 1, max: 11 }),
          fc.constantFrom(...policyCases),
          async (k, { policy, changes }) => {
            const base = await Effect.runPromise(kitConfig())
            const report = await Effect.runPromise(checkPolicyLaws({ config: base, policy, changes, stopAt: [k] }))
            const [point] = report.stopPoints
            assert.strictEqual(point!.stopAt, k)
            assert.strictEqual(point!.cursorAtStop, 4 * k)
            assert.strictEqual(point!.loaded.length + point!.fresh.length, 12)
          }
        ),
        { numRuns: 4 }
      )
    ))

  it.effect("reports what it saw: transfer subset, restart, cursor reset", () =>
    Effect.gen(function*() {
      const base = yield* kitConfig()
      const report = yield* checkPolicyLaws({
        config: base,
        policy: { ...presets.transfer, tensors: { exclude: ["output.weight"] } },
        changes: { steps: 6 },
        stopAt: [4]
      })
      assert.deepInclude(report.stopPoints[0], { stopAt: 4, cursorAtStop: 16, finalCursor: 24 })
      assert.deepStrictEqual(report.stopPoints[0]!.fresh, ["output.weight"])
    }))

  it.effect("breaks lr-continuity when the composition ignores the reconciled schedule", () =>
    Effect.gen(function*() {
      const base = yield* kitConfig()
      // At k = 11 the old 12-step schedule is decaying, the new 24-step one is at its peak.
      const error = (yield* expectFailure(checkPolicyLaws({
        config: base,
        policy: presets.continue,
        changes: { steps: 24 },
        stopAt: [11],
        build: tampered((s) => ({ ...s, schedule: undefined }))
      }))) as PolicyLawViolated
      assert.deepInclude(error, {
        _tag: "PolicyLawViolated",
        law: "lr-continuity",
        stopAt: 11,
        step: 12,
        actual: "0.003"
      })
      assert.include(
        error.message,
        "law lr-continuity broken after resuming from step 11 at step 12: lr (schedule extend"
      )
    }))

  it.effect("breaks model-load when the composition drops the loaded tensors", () =>
    Effect.gen(function*() {
      const base = yield* kitConfig()
      const error = (yield* expectFailure(checkPolicyLaws({
        config: base,
        policy: { ...presets.transfer, tensors: { exclude: ["output.weight"] } },
        stopAt: [3],
        build: tampered((s) => ({ ...s, modelTensors: undefined }))
      }))) as PolicyLawViolated
      assert.deepInclude(error, { law: "model-load", field: "model (loaded).tok_embeddings.weight[0]" })
    }))

  it.effect("breaks data-cursor when the composition restarts the cursor under data load", () =>
    Effect.gen(function*() {
      const base = yield* kitConfig()
      const error = (yield* expectFailure(checkPolicyLaws({
        config: base,
        policy: presets.continue,
        changes: { steps: 16 },
        stopAt: [4],
        build: tampered((s) => ({ ...s, cursor: 0 }))
      }))) as PolicyLawViolated
      assert.deepInclude(error, { law: "data-cursor", step: 8, expected: "32", actual: "16" })
    }))

  it.effect("fails typed when the policy is rejected", () =>
    Effect.gen(function*() {
      const base = yield* kitConfig()
      const error = yield* expectFailure(
        checkPolicyLaws({ config: base, policy: presets.exact, changes: { steps: 20 }, stopAt: [4] })
      )
      assert.deepInclude(error, { _tag: "ResumeRunFailed", run: "resumed", stopAt: 4 })
      assert.include(error.message, "PlanRejected")
    }))
})
