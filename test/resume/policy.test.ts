import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { decodePolicy, policyName, presets, type ResumePolicy } from "../../src/resume/policy.ts"

describe("ResumePolicy", () => {
  it("rules out step/schedule pairings in the type", () => {
    // @ts-expect-error a continuing schedule needs the step kept
    const resetExtend: ResumePolicy = {
      model: "load",
      optimizer: "reset",
      schedule: "extend",
      data: "reset",
      step: "reset"
    }
    // @ts-expect-error a restarted schedule needs the step reset
    const keepRestart: ResumePolicy = {
      model: "load",
      optimizer: "load",
      schedule: "restart",
      data: "load",
      step: "keep"
    }
    const fine: ResumePolicy = { model: "load", optimizer: "reset", schedule: "rewarm", data: "load", step: "keep" }
    assert.strictEqual(policyName(fine), "custom")
    void resetExtend
    void keepRestart
  })

  it.effect("rules out the same pairings in a policy file", () =>
    Effect.gen(function*() {
      for (
        const bad of [
          { model: "load", optimizer: "reset", schedule: "extend", data: "reset", step: "reset" },
          { model: "load", optimizer: "load", schedule: "restart", data: "load", step: "keep" }
        ]
      ) {
        const error = yield* Effect.flip(decodePolicy("policy.json", bad))
        assert.strictEqual(error.source, "policy.json")
      }
      const ok = yield* decodePolicy("policy.json", {
        ...presets.transfer,
        tensors: { exclude: ["output.*"], strict: false }
      })
      assert.strictEqual(policyName(ok), "transfer")
    }))

  it("names the presets", () => {
    for (const [name, preset] of Object.entries(presets)) assert.strictEqual(policyName(preset), name)
  })
})
