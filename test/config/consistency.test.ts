import { assert, describe, it } from "@effect/vitest"
import { Effect, Result, Schema } from "effect"
import fc from "fast-check"
import { decodeRunConfig, defaultRunConfig } from "../../src/config/loadConfig.ts"
import { RunConfig } from "../../src/config/RunConfig.ts"
import { warmupStepsOf } from "../../src/config/scheduleConfig.ts"
import { ResolvedWsd } from "../../src/config/scheduleSpec.ts"
import { resolveGeometry } from "../../src/data/geometry.ts"
import { modelFromConfig } from "../../src/model/fromConfig.ts"
import { resolveSchedule } from "../../src/optim/schedule.ts"

/** Decoding `input` fails with exactly `message` (`path = value: reason`). */
const refuses = (input: unknown, message: string) =>
  Effect.map(Effect.flip(decodeRunConfig(input)), (error) => {
    assert.strictEqual(error._tag, "ConfigError")
    assert.strictEqual(error.message, message)
  })

const accepts = (input: unknown) => Effect.asVoid(decodeRunConfig(input))

describe("model", () => {
  it.effect("a llama's heads must divide dim", () =>
    Effect.gen(function*() {
      yield* refuses({ model: { heads: 3 } }, "model.heads = 3: must divide model.dim = 64")
      // The value shown is the one the rule saw, also when the input left it at its default.
      yield* refuses({ model: { dim: 66 } }, "model.heads = 4: must divide model.dim = 66")
    }))

  it.effect("a llama's head size must be even, for RoPE's pairs", () =>
    refuses(
      { model: { dim: 6, heads: 2 } },
      "model.heads = 2: head size model.dim / model.heads = 3 must be even for RoPE"
    ))

  it.effect("an mlp has no heads: neither rule applies", () => accepts({ model: { kind: "mlp", dim: 6, heads: 4 } }))
})

describe("batch", () => {
  it.effect("the global batch must be a whole number of micro-batches; P at most their number", () =>
    Effect.gen(function*() {
      yield* refuses(
        { batch: { global: 10, micro: 16 } },
        "batch.global = 10: must be a multiple of batch.micro = 16 (a whole number of micro-batches)"
      )
      yield* refuses(
        { batch: { global: 16, micro: 4, dp: 5 } },
        "batch.dp = 5: must be at most the 4 micro-batches of a step (batch.global / batch.micro = 16 / 4), or auto"
      )
      // P need not divide the micro-batches: a rank may get one fewer.
      yield* accepts({ batch: { global: 16, micro: 4, dp: 3 } })
      yield* accepts({ batch: { global: 16, micro: 2, dp: "auto" } })
      const error = yield* Effect.flip(decodeRunConfig({ batch: { dp: "many" } }))
      assert.include(error.message, "batch.dp")
    }))

  it.effect("without batch.micro, μ is the largest divisor of B up to 16 leaving 4 micro-batches, whatever P", () =>
    Effect.gen(function*() {
      for (
        const [global, dp, micro] of [[16, 1, 4], [16, 3, 4], [64, 2, 16], [128, 1, 16], [4, 1, 1], [10, 1, 2], [
          24,
          "auto",
          6
        ], [7, 1, 1]] as const
      ) {
        const config = yield* decodeRunConfig({ batch: { global, dp } })
        assert.deepStrictEqual(config.batch, { global, micro, dp }, `global ${global}, dp ${dp}`)
      }
    }))
  it("the default is P = auto", () => {
    assert.strictEqual(defaultRunConfig().batch.dp, "auto")
  })
})

describe("schedule: its own fields", () => {
  it.effect("decaySteps and decayRatio may not both be set", () =>
    refuses(
      { schedule: { decaySteps: 10, decayRatio: 0.1 } },
      "schedule.decaySteps = 10: decaySteps and decayRatio (0.1) are both set; set only one"
    ))

  it.effect("constant has no decay length to set", () =>
    Effect.gen(function*() {
      const reason = "schedule.kind constant has no decay; the decay length cannot be set"
      yield* refuses({ schedule: { kind: "constant", decaySteps: 3 } }, `schedule.decaySteps = 3: ${reason}`)
      yield* refuses({ schedule: { kind: "constant", decayRatio: 0.5 } }, `schedule.decayRatio = 0.5: ${reason}`)
    }))

  it.effect("warmup-decay implies its decay length", () =>
    Effect.gen(function*() {
      const reason =
        "schedule.kind warmup-decay decays from the end of the warm-up to the last step; the decay length cannot be set"
      yield* refuses({ schedule: { kind: "warmup-decay", decaySteps: 3 } }, `schedule.decaySteps = 3: ${reason}`)
      yield* refuses({ schedule: { kind: "warmup-decay", decayRatio: 0.3 } }, `schedule.decayRatio = 0.3: ${reason}`)
    }))
})

describe("schedule: fitting the run's steps", () => {
  it.effect("the warm-up may not be longer than the run, whatever the kind", () =>
    Effect.gen(function*() {
      yield* refuses(
        { steps: 40, schedule: { warmupSteps: 50 } },
        "schedule.warmupSteps = 50: longer than the run (steps 40)"
      )
      // The default warm-up is a fraction of the run, so a short run is valid as it is.
      yield* accepts({ steps: 40 })
      for (const kind of ["constant", "warmup-decay"]) {
        yield* refuses(
          { steps: 100, schedule: { kind, warmupSteps: 101 } },
          "schedule.warmupSteps = 101: longer than the run (steps 100)"
        )
        yield* accepts({ steps: 100, schedule: { kind, warmupSteps: 100 } })
      }
    }))

  it.effect("the default warm-up is 1/12 of the run, rounded to the nearest step: 50 of 600", () =>
    Effect.gen(function*() {
      for (const [steps, W] of [[600, 50], [1200, 100], [20, 2], [30, 3], [6, 1], [5, 0], [1, 0]] as const) {
        const config = yield* decodeRunConfig({ steps })
        assert.strictEqual(warmupStepsOf(config.schedule, steps), W, `steps ${steps}`)
      }
      yield* refuses(
        { steps: 10, schedule: { warmupRatio: 0.9 } },
        "schedule.warmupRatio = 0.9: the warm-up (warmupRatio 0.9 → 9 steps) ends after the decay starts at step 8 " +
          "(steps 10, decayRatio 0.2 → 2 steps)"
      )
      yield* refuses(
        { schedule: { warmupSteps: 30, warmupRatio: 0.1 } },
        "schedule.warmupSteps = 30: warmupSteps and warmupRatio (0.1) are both set; set only one"
      )
      // An integer warm-up is taken as it is.
      assert.strictEqual(
        warmupStepsOf((yield* decodeRunConfig({ steps: 20, schedule: { warmupSteps: 7 } })).schedule, 20),
        7
      )
    }))

  it.effect("decaySteps may not be longer than the run", () =>
    refuses(
      { steps: 100, schedule: { warmupSteps: 0, decaySteps: 200 } },
      "schedule.decaySteps = 200: longer than the run (steps 100)"
    ))

  it.effect("the warm-up must end before the decay starts", () =>
    Effect.gen(function*() {
      yield* refuses(
        { schedule: { warmupSteps: 500 } },
        "schedule.warmupSteps = 500: the warm-up ends after the decay starts at step 480 (steps 600, decayRatio 0.2 → 120 steps)"
      )
      yield* refuses(
        { schedule: { warmupSteps: 500, decaySteps: 120 } },
        "schedule.warmupSteps = 500: the warm-up ends after the decay starts at step 480 (steps 600, decaySteps 120)"
      )
      // decayRatio·N rounds to the nearest step: 0.25 × 10 → 3, so W = 7 just fits.
      yield* accepts({ steps: 10, schedule: { warmupSteps: 7, decayRatio: 0.25 } })
      yield* refuses(
        { steps: 10, schedule: { warmupSteps: 8, decayRatio: 0.25 } },
        "schedule.warmupSteps = 8: the warm-up ends after the decay starts at step 7 (steps 10, decayRatio 0.25 → 3 steps)"
      )
    }))
})

describe("a decoded configuration", () => {
  // Mostly consistent by construction, so that most inputs decode; the rest exercise the rules.
  const input = fc.record({
    steps: fc.integer({ min: 1, max: 200 }),
    model: fc.record({
      kind: fc.constantFrom("llama", "mlp"),
      heads: fc.integer({ min: 1, max: 4 }),
      size: fc.integer({ min: 1, max: 6 })
    })
      .map(({ kind, heads, size }) => ({ kind, heads, dim: heads * size, layers: 1 })),
    batch: fc.record({
      micro: fc.integer({ min: 1, max: 4 }),
      dp: fc.integer({ min: 1, max: 3 }),
      k: fc.integer({ min: 1, max: 3 }),
      extra: fc.nat(3)
    })
      .map(({ micro, dp, k, extra }) => ({ micro, dp, global: micro * dp * k + (extra === 0 ? 1 : 0) })),
    schedule: fc.oneof(
      fc.record({ kind: fc.constantFrom("constant", "warmup-decay"), warmupSteps: fc.nat(120) }),
      fc.record({ kind: fc.constant("wsd"), warmupSteps: fc.nat(120), decaySteps: fc.nat(120) }),
      fc.record({
        kind: fc.constant("wsd"),
        warmupSteps: fc.nat(120),
        decayRatio: fc.double({ min: 0, max: 1, noNaN: true })
      })
    )
  })

  it("builds its model and batch geometry and resolves its schedule, which never fails", () => {
    let decoded = 0
    fc.assert(
      fc.property(input, (encoded) => {
        const result = Schema.decodeUnknownResult(RunConfig)(encoded)
        if (Result.isFailure(result)) return
        decoded++
        const config = result.success
        const model = modelFromConfig(config.model)
        assert.strictEqual(model.params.length, config.model.kind === "llama" ? 12 : 3)
        // What makeLlama relies on: heads of equal, even size.
        if (config.model.kind === "llama") assert.strictEqual((config.model.dim / config.model.heads) % 2, 0)
        const geometry = resolveGeometry(config.batch, 2)
        assert.isTrue(Number.isInteger(geometry.accumulation) && geometry.accumulation >= 1)
        assert.isTrue(geometry.dp >= 1 && geometry.dp <= geometry.microBatches)
        const schedule = resolveSchedule(config.schedule, config.optimizer.lr, config.steps)
        // The stored form's own rule (W + D ≤ N) holds for every resolution of a decoded configuration.
        assert.isTrue(Result.isSuccess(Schema.decodeUnknownResult(ResolvedWsd)(schedule)), JSON.stringify(schedule))
      }),
      { numRuns: 400 }
    )
    assert.isAbove(decoded, 100)
  })
})
