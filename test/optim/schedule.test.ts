import { assert, describe, it } from "@effect/vitest"
import { Effect, Result, Schema } from "effect"
import fc from "fast-check"
import { defaultRunConfig } from "../../src/config/loadConfig.ts"
import {
  decayFactor,
  decodeSchedule,
  lr,
  lrSegments,
  referenceScheduleConfig,
  ResolvedSchedule,
  type ResolvedWsd,
  resolveSchedule,
  ScheduleConfig,
  type ScheduleConfig as ScheduleConfigType,
  wsdSegments
} from "../../src/optim/schedule.ts"

const decodeConfig = Schema.decodeUnknownSync(ScheduleConfig)

/** A resolved spec over the whole parameter space, through `resolveSchedule` with every kind. */
const resolvedArb: fc.Arbitrary<ResolvedWsd> = fc
  .integer({ min: 1, max: 3000 })
  .chain((N) =>
    fc.record({
      N: fc.constant(N),
      W: fc.integer({ min: 0, max: N }),
      split: fc.double({ min: 0, max: 1, noNaN: true }),
      kind: fc.constantFrom("wsd" as const, "constant" as const, "warmup-decay" as const),
      shape: fc.constantFrom("linear" as const, "sqrt" as const, "cosine" as const),
      factor: fc.oneof(fc.constant(0), fc.constant(1), fc.double({ min: 0, max: 1, noNaN: true })),
      peak: fc.double({ min: 1e-6, max: 1, noNaN: true })
    })
  )
  .map(({ N, W, split, kind, shape, factor, peak }) => {
    const base = { warmupSteps: W, decayShape: shape, minLrFactor: factor }
    const config: ScheduleConfigType = kind === "wsd"
      ? { ...base, kind, decaySteps: Math.floor(split * (N - W)) }
      : { ...base, kind }
    return resolveSchedule(config, peak, N)
  })

/**
 * The formulas of docs/design.md, written out independently of the implementation. Where the exact value is
 * known (η at the last warm-up step, η at the decay start) it is used as such; `literal` below checks
 * that the written formula agrees there up to rounding.
 */
const formula = (s: ResolvedWsd, t: number): number => {
  const { peakLr: eta, warmupSteps: W, decaySteps: D, totalSteps: N } = s
  if (t < W) return t === W - 1 ? eta : eta * (t + 1) / W
  if (D === 0 || t < N - D) return eta
  const m = eta * s.minLrFactor
  const p = Math.min(1, (t - (N - D)) / D)
  return p === 0 ? eta : m + (eta - m) * decayFactor(s.decayShape, p)
}

const literal = (s: ResolvedWsd, t: number): number => {
  const { peakLr: eta, warmupSteps: W, decaySteps: D, totalSteps: N } = s
  if (t < W) return eta * (t + 1) / W
  if (D === 0 || t < N - D) return eta
  const m = eta * s.minLrFactor
  return m + (eta - m) * decayFactor(s.decayShape, Math.min(1, (t - (N - D)) / D))
}

/** Largest per-step change the formulas allow: the warm-up slope or the steepest decay step. */
const perStepBound = (s: ResolvedWsd): number => {
  const { peakLr: eta, warmupSteps: W, decaySteps: D } = s
  const m = eta * s.minLrFactor
  const warm = W > 0 ? eta / W : 0
  const steepest = D === 0
    ? 0
    : s.decayShape === "linear"
    ? 1 / D
    : s.decayShape === "sqrt"
    ? Math.sqrt(1 / D)
    : Math.PI / (2 * D)
  return Math.max(warm, (eta - m) * steepest) * (1 + 1e-9) + eta * 1e-12
}

const sampleSteps = (s: ResolvedWsd): Array<number> => {
  const N = s.totalSteps
  const W = s.warmupSteps
  const start = N - s.decaySteps
  const around = [0, 1, W - 1, W, W + 1, start - 1, start, start + 1, N - 2, N - 1, N, N + 1, 2 * N, 10 * N + 7]
  const spread = Array.from({ length: 40 }, (_, i) => Math.floor((i * (N + 3)) / 40))
  return [...around, ...spread].filter((t) => t >= 0)
}

describe("ScheduleConfig", () => {
  it("decodes {} to the reference configuration of docs/design.md", () => {
    assert.deepStrictEqual(decodeConfig({}), {
      kind: "wsd",
      warmupRatio: 1 / 12,
      decayRatio: 0.2,
      decayShape: "linear",
      minLrFactor: 0.1
    })
    assert.deepStrictEqual(referenceScheduleConfig, decodeConfig({}))
  })

  it("keeps an absolute decay length without adding the default ratio", () => {
    const config = decodeConfig({ decaySteps: 100 })
    assert.strictEqual(config.decaySteps, 100)
    assert.isUndefined(config.decayRatio)
    assert.isUndefined(decodeConfig({ kind: "warmup-decay" }).decayRatio)
  })

  it("round-trips through its encoded form", () => {
    const config = decodeConfig({ kind: "wsd", warmupSteps: 10, decaySteps: 30, decayShape: "cosine" })
    assert.deepStrictEqual(decodeConfig(Schema.encodeSync(ScheduleConfig)(config)), config)
  })

  it("rejects both decay lengths, decay lengths for kinds that imply them, and out-of-range values", () => {
    const rejected = [
      [{ decaySteps: 10, decayRatio: 0.1 }, "decaySteps and decayRatio"],
      [{ kind: "warmup-decay", decayRatio: 0.3 }, "decayRatio"],
      [{ kind: "constant", decaySteps: 3 }, "decaySteps"],
      [{ warmupSteps: -1 }, "warmupSteps"],
      [{ warmupSteps: 2.5 }, "warmupSteps"],
      [{ decayRatio: 1.5 }, "decayRatio"],
      [{ minLrFactor: -0.1 }, "minLrFactor"],
      [{ decayShape: "exponential" }, "decayShape"],
      [{ kind: "step" }, "kind"]
    ] as const
    for (const [input, mention] of rejected) {
      const result = Schema.decodeUnknownResult(ScheduleConfig)(input)
      assert.isTrue(Result.isFailure(result), JSON.stringify(input))
      if (Result.isFailure(result)) assert.include(result.failure.message, mention)
    }
  })
})

describe("resolveSchedule", () => {
  it("resolves the reference run: 600 steps, decay over the last 120", () => {
    const s = resolveSchedule(referenceScheduleConfig, 3e-3, 600)
    assert.deepStrictEqual(s, {
      _tag: "wsd",
      totalSteps: 600,
      peakLr: 3e-3,
      warmupSteps: 50,
      decaySteps: 120,
      decayShape: "linear",
      minLrFactor: 0.1
    })
    assert.strictEqual(lr(s, 0), 3e-3 / 50)
    assert.strictEqual(lr(s, 49), 3e-3)
    assert.strictEqual(lr(s, 479), 3e-3)
    const m = 3e-3 * 0.1
    assert.strictEqual(lr(s, 480), 3e-3)
    assert.strictEqual(lr(s, 481), m + (3e-3 - m) * (1 - 1 / 120))
    assert.strictEqual(lr(s, 599), m + (3e-3 - m) * (1 - 119 / 120))
    assert.strictEqual(lr(s, 600), m)
    assert.strictEqual(lr(s, 1_000_000), m)
  })

  it("resolves warmup-decay with the decay starting right after the warm-up", () => {
    const s = resolveSchedule(
      { ...referenceScheduleConfig, kind: "warmup-decay", decayRatio: undefined, warmupSteps: 10 },
      1e-3,
      100
    )
    assert.strictEqual(s.decaySteps, 90)
    assert.strictEqual(lr(s, 9), 1e-3)
    assert.isBelow(lr(s, 11), lr(s, 10))
  })

  it("resolves constant to the peak after the warm-up, with no decay and no floor", () => {
    const s = resolveSchedule({ kind: "constant", warmupSteps: 4, decayShape: "linear", minLrFactor: 0.1 }, 2e-3, 50)
    assert.strictEqual(s.decaySteps, 0)
    assert.strictEqual(s.minLrFactor, 1)
    assert.strictEqual(lr(s, 0), 2e-3 / 4)
    for (const t of [3, 4, 49, 50, 51, 10_000]) assert.strictEqual(lr(s, t), 2e-3)
  })

  it("rounds decayRatio·N to the nearest step", () => {
    const s = resolveSchedule({ ...referenceScheduleConfig, warmupSteps: 0, decayRatio: 0.25 }, 1, 10)
    assert.strictEqual(s.decaySteps, 3)
  })
})

describe("decodeSchedule", () => {
  // Every rejection it shares with `--set schedule.…` is tested in test/config/consistency.test.ts.
  const run = { ...defaultRunConfig(), steps: 300 }

  it("resolves a schedule written in code against the run's steps and peak LR", () => {
    const resolved = decodeSchedule({ warmupSteps: 20, decayRatio: 0.5, decayShape: "cosine" }, run)
    assert.deepStrictEqual(
      Result.getOrThrow(resolved),
      resolveSchedule({ ...referenceScheduleConfig, warmupSteps: 20, decayRatio: 0.5, decayShape: "cosine" }, 3e-3, 300)
    )
    assert.strictEqual(Result.getOrThrow(resolved).decaySteps, 150)
  })

  it.effect("refuses a schedule that does not fit the run, naming the field and value", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Effect.fromResult(decodeSchedule({ warmupSteps: 400 }, run)))
      assert.strictEqual(error._tag, "ConfigError")
      assert.strictEqual(error.message, "schedule.warmupSteps = 400: longer than the run (steps 300)")
    }))
})

describe("lr laws", () => {
  it("equals the docs/design.md formulas bit for bit, directly and in segment form", () => {
    fc.assert(
      fc.property(resolvedArb, (s) => {
        const segments = wsdSegments(s)
        for (const t of sampleSteps(s)) {
          const expected = formula(s, t)
          assert.strictEqual(lr(s, t), expected, `t=${t}`)
          assert.strictEqual(lrSegments(segments, t), expected, `segments t=${t}`)
          assert.closeTo(literal(s, t), expected, expected * 4e-16, `literal t=${t}`)
        }
      }),
      { numRuns: 300 }
    )
  })

  it("is never negative, always finite, and never above the peak", () => {
    fc.assert(
      fc.property(resolvedArb, (s) => {
        for (const t of sampleSteps(s)) {
          const v = lr(s, t)
          assert.isTrue(Number.isFinite(v) && v >= 0 && v <= s.peakLr * (1 + 1e-15), `t=${t} lr=${v}`)
        }
      }),
      { numRuns: 300 }
    )
  })

  it("is constant after the end: the floor with a decay, the peak without", () => {
    fc.assert(
      fc.property(resolvedArb, fc.integer({ min: 0, max: 1_000_000 }), (s, beyond) => {
        const end = s.decaySteps === 0 ? s.peakLr : s.peakLr * s.minLrFactor
        if (s.warmupSteps < s.totalSteps || s.decaySteps > 0) assert.strictEqual(lr(s, s.totalSteps), end)
        assert.strictEqual(lr(s, s.totalSteps + beyond), lr(s, s.totalSteps))
      }),
      { numRuns: 300 }
    )
  })

  it("hits the formulas at the end of the warm-up, the start of the decay and the end", () => {
    fc.assert(
      fc.property(resolvedArb, (s) => {
        const { peakLr: eta, warmupSteps: W, decaySteps: D, totalSteps: N } = s
        const m = eta * s.minLrFactor
        if (W > 0) assert.strictEqual(lr(s, W - 1), eta)
        if (W < N - D) assert.strictEqual(lr(s, W), eta)
        if (D > 0 && N - D >= W) {
          assert.strictEqual(lr(s, N - D), eta)
          assert.strictEqual(lr(s, N - 1), m + (eta - m) * decayFactor(s.decayShape, (D - 1) / D))
          assert.strictEqual(lr(s, N), m)
        }
      }),
      { numRuns: 300 }
    )
  })

  it("changes by at most the largest per-step change the formulas allow, at every step", () => {
    fc.assert(
      fc.property(resolvedArb.filter((s) => s.totalSteps <= 600), (s) => {
        const bound = perStepBound(s)
        for (let t = 0; t <= s.totalSteps + 2; t++) {
          const jump = Math.abs(lr(s, t + 1) - lr(s, t))
          assert.isAtMost(jump, bound, `t=${t}`)
        }
      }),
      { numRuns: 200 }
    )
  })

  it("rises only during the warm-up and never rises again after it", () => {
    fc.assert(
      fc.property(resolvedArb.filter((s) => s.totalSteps <= 600), (s) => {
        for (let t = 0; t <= s.totalSteps + 2; t++) {
          if (lr(s, t + 1) > lr(s, t)) assert.isBelow(t + 1, s.warmupSteps, `rises at t=${t}`)
        }
      }),
      { numRuns: 200 }
    )
  })

  it("serializes to JSON and decodes back to the same spec", () => {
    fc.assert(
      fc.property(resolvedArb, (s) => {
        const decoded = Schema.decodeUnknownSync(ResolvedSchedule)(JSON.parse(JSON.stringify(s)))
        assert.deepStrictEqual(decoded, s)
      }),
      { numRuns: 100 }
    )
  })

  it("rejects a stored spec that breaks its own rules", () => {
    const bad = {
      _tag: "wsd",
      totalSteps: 10,
      peakLr: 1e-3,
      warmupSteps: 8,
      decaySteps: 5,
      decayShape: "linear",
      minLrFactor: 0.1
    }
    assert.isTrue(Result.isFailure(Schema.decodeUnknownResult(ResolvedSchedule)(bad)))
    const trailingRamp = {
      _tag: "spliced",
      configured: { ...bad, warmupSteps: 2 },
      peakLr: 1e-3,
      segments: [{ _tag: "ramp", from: 0, t0: -1, a: 0, t1: 1, b: 1e-3 }]
    }
    assert.isTrue(Result.isFailure(Schema.decodeUnknownResult(ResolvedSchedule)(trailingRamp)))
  })
})
