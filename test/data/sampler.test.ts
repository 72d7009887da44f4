import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fc from "fast-check"
import { DataLoader, makeDataLoader } from "../../src/data/DataLoader.ts"
import { epochPermutation, permutationStream } from "../../src/data/permutation.ts"
import { makeWindowSampler } from "../../src/data/sampler.ts"
import { uint16Stream } from "../../src/data/TokenStream.ts"

const isPermutation = (perm: Int32Array, n: number): boolean => {
  if (perm.length !== n) return false
  const seen = new Uint8Array(n)
  for (const v of perm) {
    if (v < 0 || v >= n || seen[v]) return false
    seen[v] = 1
  }
  return true
}

const equal = (a: ArrayLike<number>, b: ArrayLike<number>): boolean =>
  a.length === b.length && Array.from(a).every((v, i) => v === b[i])

/** Tokens 0, 1, 2, …: the first input of a window of length T is w·T, so batches reveal their windows. */
const countingStream = (n: number) =>
  uint16Stream("counting", "nanogpt-uint16", Uint16Array.from({ length: n }, (_, i) => i))

const windowsOf = (ids: Int32Array, seqLen: number): Array<number> =>
  Array.from({ length: ids.length / seqLen }, (_, k) => ids[k * seqLen] / seqLen)

describe("epochPermutation", () => {
  it("is a permutation of [0, M) and a pure function of (seed, epoch)", () => {
    fc.assert(fc.property(fc.nat(), fc.nat({ max: 10_000 }), fc.integer({ min: 1, max: 400 }), (seed, epoch, m) => {
      const perm = epochPermutation(seed, epoch, m)
      return isPermutation(perm, m) && equal(perm, epochPermutation(seed, epoch, m))
    }))
  })

  it("differs between seeds and between epochs", () => {
    const m = 1000
    const perms = [
      epochPermutation(0, 0, m),
      epochPermutation(1, 0, m),
      epochPermutation(0, 1, m),
      epochPermutation(1, 1, m),
      epochPermutation(12345, 7, m)
    ]
    for (let a = 0; a < perms.length; a++) {
      assert.isFalse(equal(perms[a], Int32Array.from({ length: m }, (_, i) => i)), `permutation ${a} is the identity`)
      for (let b = a + 1; b < perms.length; b++) {
        assert.isFalse(equal(perms[a], perms[b]), `permutations ${a} and ${b} agree`)
      }
    }
  })

  it("gives distinct epochs distinct random streams", () => {
    const streams = new Set(Array.from({ length: 5000 }, (_, e) => permutationStream(e)))
    assert.strictEqual(streams.size, 5000)
  })

  it("spreads every window over every position (no positional bias)", () => {
    // 3 windows, 6000 epochs: each window should land in each position about 2000 times.
    const counts = Array.from({ length: 3 }, () => [0, 0, 0])
    for (let e = 0; e < 6000; e++) {
      const perm = epochPermutation(42, e, 3)
      for (let p = 0; p < 3; p++) counts[perm[p]][p]++
    }
    for (const row of counts) for (const c of row) assert.isTrue(c > 1800 && c < 2200, `count ${c}`)
  })
})

describe("window sampler", () => {
  it("maps sample g to perm_e(g mod M) of epoch e = floor(g / M)", () => {
    fc.assert(fc.property(fc.nat(), fc.integer({ min: 1, max: 50 }), fc.nat({ max: 5000 }), (seed, m, g) => {
      const sampler = makeWindowSampler(seed, m)
      return sampler.epochOf(g) === Math.floor(g / m) &&
        sampler.windowAt(g) === epochPermutation(seed, Math.floor(g / m), m)[g % m]
    }))
  })

  it("delivers every window exactly once per epoch for any sequence of step sizes and resumes", () => {
    fc.assert(fc.property(
      fc.nat(),
      fc.integer({ min: 1, max: 40 }),
      fc.nat({ max: 200 }),
      fc.array(fc.record({ size: fc.integer({ min: 0, max: 90 }), resume: fc.boolean() }), {
        minLength: 1,
        maxLength: 60
      }),
      (seed, m, start, steps) => {
        let sampler = makeWindowSampler(seed, m)
        let cursor = start
        const delivered: Array<number> = []
        for (const step of steps) {
          // A resume rebuilds the sampler from nothing but the seed and the cursor.
          if (step.resume) sampler = makeWindowSampler(seed, m)
          delivered.push(...sampler.windowsAt(cursor, step.size))
          cursor += step.size
        }
        // Sample start + i is delivered[i]; group by epoch.
        const byEpoch = new Map<number, Array<number>>()
        delivered.forEach((w, i) => {
          const e = Math.floor((start + i) / m)
          byEpoch.set(e, [...(byEpoch.get(e) ?? []), w])
        })
        for (const [e, windows] of byEpoch) {
          const complete = e * m >= start && (e + 1) * m <= cursor
          if (new Set(windows).size !== windows.length) return false
          if (complete && !isPermutation(Int32Array.from(windows), m)) return false
        }
        return true
      }
    ))
  })

  it("crosses epoch boundaries inside one request", () => {
    const sampler = makeWindowSampler(7, 5)
    const got = sampler.windowsAt(3, 9)
    const expected = [
      ...epochPermutation(7, 0, 5).slice(3),
      ...epochPermutation(7, 1, 5),
      ...epochPermutation(7, 2, 5).slice(0, 2)
    ]
    assert.deepStrictEqual(Array.from(got), expected)
  })

  it("rejects negative or fractional cursors", () => {
    const sampler = makeWindowSampler(0, 4)
    assert.throws(() => sampler.windowsAt(-1, 2), RangeError)
    assert.throws(() => sampler.windowsAt(1.5, 2), RangeError)
  })
})

describe("DataLoader micro-batches", () => {
  it("cover each step's samples in order of j, whatever dp and accumulation, across geometry changes", () => {
    const seqLen = 4
    // 189 tokens: the last 37 are held out, 152 remain for floor(151 / 4) = 37 training windows.
    const stream = countingStream(189)
    fc.assert(
      fc.property(
        fc.nat(),
        fc.array(
          fc.record({
            micro: fc.integer({ min: 1, max: 5 }),
            dp: fc.integer({ min: 1, max: 4 }),
            accumulation: fc.integer({ min: 1, max: 3 }),
            steps: fc.integer({ min: 1, max: 6 })
          }),
          { minLength: 1, maxLength: 5 }
        ),
        (seed, segments) => {
          const delivered: Array<number> = []
          let cursor = 0
          let windows = 0
          for (const seg of segments) {
            const global = seg.micro * seg.dp * seg.accumulation
            // Each segment is a resume with a new geometry: a fresh loader, only the cursor carried over.
            const loader = Effect.runSync(
              makeDataLoader(stream, {
                valFraction: 0.2,
                seqLen,
                seed,
                batch: { global, micro: seg.micro, dp: seg.dp }
              })
            )
            windows = loader.windows
            for (let s = 0; s < seg.steps; s++) {
              const byJ = new Map<number, Array<number>>()
              for (let r = 0; r < seg.dp; r++) {
                for (const j of loader.rankMicroBatches(r)) {
                  byJ.set(
                    j,
                    windowsOf(loader.microBatch(cursor, j).ids, seqLen)
                  )
                }
              }
              const step = Array.from({ length: byJ.size }, (_, j) => byJ.get(j)!).flat()
              if (!equal(step, windowsOf(loader.batchAt(cursor, global).ids, seqLen))) return false
              delivered.push(...step)
              cursor += global
            }
          }
          for (let e = 0; (e + 1) * windows <= delivered.length; e++) {
            if (!isPermutation(Int32Array.from(delivered.slice(e * windows, (e + 1) * windows)), windows)) return false
          }
          return true
        }
      ),
      { numRuns: 60 }
    )
  })

  it.effect("serves inputs and next-token targets of the sampled windows", () =>
    Effect.gen(function*() {
      const seqLen = 3
      const loader = yield* DataLoader.pipe(
        Effect.provide(
          DataLoader.layerTokens(countingStream(31), {
            valFraction: 0,
            seqLen,
            seed: 9,
            batch: { global: 4, micro: 2, dp: 1 }
          })
        )
      )
      assert.strictEqual(loader.windows, 10)
      const batch = loader.microBatch(0, 1)
      const expectedWindows = makeWindowSampler(9, 10).windowsAt(2, 2)
      assert.deepStrictEqual(batch.count, 2)
      for (let k = 0; k < 2; k++) {
        const w = expectedWindows[k]
        assert.deepStrictEqual(Array.from(batch.ids.subarray(k * seqLen, (k + 1) * seqLen)), [
          w * 3,
          w * 3 + 1,
          w * 3 + 2
        ])
        assert.deepStrictEqual(Array.from(batch.targets.subarray(k * seqLen, (k + 1) * seqLen)), [
          w * 3 + 1,
          w * 3 + 2,
          w * 3 + 3
        ])
      }
    }))
})
