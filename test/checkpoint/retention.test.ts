import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import {
  latestToKeep,
  planRetention,
  type RetentionCandidate,
  type RetentionOptions
} from "../../src/checkpoint/retention.ts"

/** Steps with their true validity, and options, as random data. */
const scenario = fc.record({
  steps: fc.uniqueArray(fc.integer({ min: 0, max: 60 }), { maxLength: 15 }),
  corrupt: fc.func(fc.boolean()),
  keepLatest: fc.integer({ min: -1, max: 5 }),
  keepEvery: fc.option(fc.integer({ min: 0, max: 12 }), { nil: undefined }),
  protect: fc.array(fc.integer({ min: 0, max: 60 }), { maxLength: 3 })
})

/** What the store knows: validity of the newest candidates, scanned until enough are valid. */
const scan = (
  steps: ReadonlyArray<number>,
  isValid: (step: number) => boolean,
  options: RetentionOptions
): Array<RetentionCandidate> => {
  let found = 0
  return [...steps].sort((a, b) => b - a).map((step) => {
    if (found >= latestToKeep(options)) return { step, valid: undefined }
    const valid = isValid(step)
    if (valid) found += 1
    return { step, valid }
  })
}

describe("planRetention", () => {
  it("obeys the retention laws (property)", () => {
    fc.assert(
      fc.property(scenario, ({ steps, corrupt, keepLatest, keepEvery, protect }) => {
        const options: RetentionOptions = { keepLatest, keepEvery, protect }
        const isValid = (step: number) => !corrupt(step)
        const plan = planRetention(scan(steps, isValid, options), options)
        const keep = new Set(plan.keep)
        const remove = new Set(plan.remove)

        // A partition of the steps, each list newest first.
        assert.deepStrictEqual([...plan.keep, ...plan.remove].sort((a, b) => a - b), [...steps].sort((a, b) => a - b))
        assert.isTrue(plan.keep.every((s) => !remove.has(s)))
        assert.deepStrictEqual(plan.keep, [...plan.keep].sort((a, b) => b - a))
        assert.deepStrictEqual(plan.remove, [...plan.remove].sort((a, b) => b - a))

        const valid = [...steps].filter(isValid).sort((a, b) => b - a)
        if (valid.length === 0) {
          assert.strictEqual(plan.remove.length, 0, "with no valid checkpoint nothing is deleted")
          return
        }
        const newestValid = valid[0]
        // The latest k valid ones survive; so does everything protected, every k-th step and
        // everything newer than the newest valid checkpoint.
        for (const step of valid.slice(0, latestToKeep(options))) assert.isTrue(keep.has(step), `latest valid ${step}`)
        for (const step of protect) if (steps.includes(step)) assert.isTrue(keep.has(step), `protected ${step}`)
        if (keepEvery !== undefined && keepEvery > 0) {
          for (const step of steps) if (step % keepEvery === 0) assert.isTrue(keep.has(step), `multiple ${step}`)
        }
        for (const step of steps) {
          if (step > newestValid) assert.isTrue(keep.has(step), `newer than newest valid ${step}`)
        }

        // Nothing else survives.
        const explained = (step: number) =>
          valid.slice(0, latestToKeep(options)).includes(step) || protect.includes(step) || step > newestValid ||
          (keepEvery !== undefined && keepEvery > 0 && step % keepEvery === 0)
        for (const step of plan.keep) assert.isTrue(explained(step), `${step} kept without a reason`)
      }),
      { numRuns: 1000 }
    )
  })

  it("keeps the newest valid checkpoint even when asked to keep none", () => {
    const plan = planRetention([{ step: 3, valid: false }, { step: 2, valid: true }, { step: 1, valid: true }], {
      keepLatest: 0
    })
    assert.deepStrictEqual(plan, { keep: [3, 2], remove: [1] })
  })

  it("keeps every n-th step and the protected one", () => {
    const candidates = [500, 400, 300, 200, 100].map((step) => ({ step, valid: step === 500 ? true : undefined }))
    const plan = planRetention(candidates, { keepLatest: 1, keepEvery: 200, protect: [300] })
    assert.deepStrictEqual(plan, { keep: [500, 400, 300, 200], remove: [100] })
  })
})
