import { assert, describe, it } from "@effect/vitest"
import { Schema } from "effect"
import fc from "fast-check"
import { canonicalJson } from "../../src/checkpoint/canonicalJson.ts"
import { encodeRunConfig } from "../../src/config/loadConfig.ts"
import { RunConfig } from "../../src/config/RunConfig.ts"
import { diffConfigs, isTrajectoryPath } from "../../src/resume/changes.ts"
import { modelFingerprint, trajectoryFingerprint } from "../../src/resume/fingerprints.ts"

const config = (encoded: unknown): RunConfig => Schema.decodeUnknownSync(RunConfig)(encoded)

describe("diffConfigs", () => {
  it("absent keys compare equal to their defaults", () => {
    assert.deepStrictEqual(diffConfigs({}, config({})), [])
    assert.deepStrictEqual(diffConfigs({ model: {} }, config({ steps: 600, model: { dim: 64 } })), [])
    assert.deepStrictEqual(diffConfigs(encodeRunConfig(config({ seed: 5 })), config({ seed: 5 })), [])
  })

  it("lists leaf paths with old and new values, arrays as leaves", () => {
    const changes = diffConfigs(
      { steps: 600, optimizer: { betas: [0.9, 0.95] } },
      config({
        steps: 900,
        optimizer: { betas: [0.8, 0.95] },
        eval: { every: 10 }
      })
    )
    // The default warm-up is a fraction of the run: compared as the steps it resolves to.
    assert.deepStrictEqual(changes, [
      { path: "steps", old: 600, new: 900, trajectory: true },
      { path: "optimizer.betas", old: [0.9, 0.95], new: [0.8, 0.95], trajectory: true },
      { path: "schedule.warmupSteps", old: 50, new: 75, trajectory: true },
      { path: "eval.every", old: 100, new: 10, trajectory: false }
    ])
  })

  it("an optional key set on one side only shows null for the unset side", () => {
    const changes = diffConfigs({ schedule: { decaySteps: 100 } }, config({ schedule: { decayRatio: 0.2 } }))
    assert.deepStrictEqual(changes, [
      { path: "schedule.decayRatio", old: null, new: 0.2, trajectory: true },
      { path: "schedule.decaySteps", old: 100, new: null, trajectory: true }
    ])
  })

  it("an old configuration that does not decode is compared leaf by leaf as it is", () => {
    const changes = diffConfigs({ steps: -1, mystery: { knob: 3 } }, config({}))
    assert.deepInclude(changes, { path: "steps", old: -1, new: 600, trajectory: true })
    assert.deepInclude(changes, { path: "mystery.knob", old: 3, new: null, trajectory: true })
    assert.deepInclude(changes, { path: "model.dim", old: null, new: 64, trajectory: true })
  })
})

describe("trajectory classification", () => {
  it("only runDir, batch.dp, eval.* and checkpoint.* are free", () => {
    for (const path of ["runDir", "batch.dp", "eval.every", "eval.batches", "checkpoint.every", "checkpoint.async"]) {
      assert.isFalse(isTrajectoryPath(path), path)
    }
    for (
      const path of [
        "seed",
        "steps",
        "batch.global",
        "batch.micro",
        "kernels.backend",
        "kernels.mode",
        "optimizer.betas",
        "schedule.warmupSteps",
        "model.dim",
        "data.source",
        "evaluation.x"
      ]
    ) assert.isTrue(isTrajectoryPath(path), path)
  })
})

describe("fingerprints", () => {
  const freeChanges = fc.record({
    runDir: fc.stringMatching(/^[a-z]{1,8}$/),
    batch: fc.record({ global: fc.constant(16), micro: fc.constant(4), dp: fc.constantFrom(1, 2, 4) }),
    eval: fc.record({ every: fc.nat(500), batches: fc.integer({ min: 1, max: 50 }) }),
    checkpoint: fc.record({
      every: fc.nat(500),
      keepLatest: fc.integer({ min: 1, max: 9 }),
      keepEvery: fc.nat(100),
      async: fc.boolean(),
      location: fc.constantFrom("s3://bucket/run", "s3://other-bucket/a/b")
    })
  })

  it("the trajectory fingerprint ignores non-trajectory settings", () => {
    const base = trajectoryFingerprint(config({ batch: { micro: 4 } }))
    assert.match(base, /^[0-9a-f]{64}$/)
    fc.assert(fc.property(freeChanges, (encoded) => trajectoryFingerprint(config(encoded)) === base))
  })

  it("the trajectory fingerprint changes with every trajectory-relevant setting", () => {
    const base = trajectoryFingerprint(config({}))
    const variants = [
      { seed: 1 },
      { steps: 601 },
      { batch: { global: 32 } },
      { batch: { micro: 8 } },
      { kernels: { backend: "gpujs" } },
      { kernels: { mode: "cpu" } },
      { optimizer: { betas: [0.9, 0.99] } },
      { schedule: { decayShape: "cosine" } },
      { data: { valFraction: 0.2 } },
      { model: { ropeTheta: 500 } }
    ]
    const seen = new Set([base])
    for (const v of variants) {
      const f = trajectoryFingerprint(config(v))
      assert.isFalse(seen.has(f), JSON.stringify(v))
      seen.add(f)
    }
  })

  it("defaults written out or left implicit give the same fingerprint", () => {
    assert.strictEqual(trajectoryFingerprint(config({})), trajectoryFingerprint(config(encodeRunConfig(config({})))))
    assert.strictEqual(
      trajectoryFingerprint(config({})),
      trajectoryFingerprint(config({ schedule: { decayRatio: 0.2 }, optimizer: { lr: 3e-3 } }))
    )
  })

  it("the model fingerprint follows parameter shapes, not the rest", () => {
    const base = modelFingerprint(config({}).model)
    assert.strictEqual(modelFingerprint(config({ model: { ropeTheta: 500, normEps: 1e-6, seqLen: 32 } }).model), base)
    assert.notStrictEqual(modelFingerprint(config({ model: { dim: 32 } }).model), base)
    assert.notStrictEqual(modelFingerprint(config({ model: { layers: 3 } }).model), base)
    assert.notStrictEqual(modelFingerprint(config({ model: { kind: "mlp" } }).model), base)
  })

  it("canonical JSON sorts keys at every depth", () => {
    assert.strictEqual(
      canonicalJson({ b: 1, a: { d: [1, { z: 0, y: 1 }], c: "x" } }),
      canonicalJson({ a: { c: "x", d: [1, { y: 1, z: 0 }] }, b: 1 })
    )
  })
})
