import { NodeFileSystem } from "@effect/platform-node"
import { assert, describe, it, layer } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { DataLoader, type DataLoaderConfig, makeDataLoader } from "../../src/data/DataLoader.ts"
import { DatasetTooSmall, DataSourceNotFound, DataSplitInvalid, ValidationSetTooSmall } from "../../src/data/errors.ts"
import { datasetFingerprint } from "../../src/data/fingerprint.ts"
import { splitDataset } from "../../src/data/split.ts"
import { byteStream, uint16Stream } from "../../src/data/TokenStream.ts"

const counting = (n: number) => uint16Stream("counting", "nanogpt-uint16", Uint16Array.from({ length: n }, (_, i) => i))
const base = { valFraction: 0.1, seqLen: 4, seed: 1, batch: { global: 4, micro: 2, dp: 2 } }

describe("split", () => {
  it.effect("holds out the last valFraction and cuts non-overlapping windows of seqLen + 1", () =>
    Effect.gen(function*() {
      const split = yield* splitDataset(counting(100), { valFraction: 0.25, seqLen: 4 })
      assert.deepStrictEqual([split.train.offset, split.train.length, split.train.windows], [0, 75, 18])
      assert.deepStrictEqual([split.validation.offset, split.validation.length, split.validation.windows], [75, 25, 6])
      const loader = yield* makeDataLoader(counting(100), { ...base, valFraction: 0.25 })
      // Validation window i is tokens [75 + 4i, 75 + 4i + 5): inputs the first 4, targets shifted by one.
      const [batch] = yield* loader.validationBatches(1, 2)
      assert.deepStrictEqual(Array.from(batch.ids), [75, 76, 77, 78, 79, 80, 81, 82])
      assert.deepStrictEqual(Array.from(batch.targets), [76, 77, 78, 79, 80, 81, 82, 83])
    }))

  it.effect("rejects out-of-range parameters and too little data, naming the field", () =>
    Effect.gen(function*() {
      const frac = yield* Effect.flip(splitDataset(counting(100), { valFraction: 1, seqLen: 4 }))
      assert.instanceOf(frac, DataSplitInvalid)
      assert.strictEqual((frac as DataSplitInvalid).field, "data.valFraction")
      const seq = yield* Effect.flip(splitDataset(counting(100), { valFraction: 0.1, seqLen: 0 }))
      assert.strictEqual((seq as DataSplitInvalid).field, "model.seqLen")
      const small = yield* Effect.flip(splitDataset(counting(10), { valFraction: 0.5, seqLen: 5 }))
      assert.instanceOf(small, DatasetTooSmall)
      assert.deepStrictEqual([(small as DatasetTooSmall).trainTokens, (small as DatasetTooSmall).seqLen], [5, 5])
    }))
})

describe("fingerprint", () => {
  it("depends on the tokens and the split parameters, not on the seed or the file format", () => {
    const tokens = Uint16Array.from({ length: 500 }, (_, i) => (i * 7919) % 1000)
    const params = { valFraction: 0.1, seqLen: 8 }
    const fp = datasetFingerprint(tokens, params)
    assert.match(fp, /^[0-9a-f]{64}$/)
    assert.strictEqual(fp, datasetFingerprint(Uint16Array.from(tokens), params))
    assert.notStrictEqual(fp, datasetFingerprint(tokens, { valFraction: 0.2, seqLen: 8 }))
    assert.notStrictEqual(fp, datasetFingerprint(tokens, { valFraction: 0.1, seqLen: 16 }))
    const changed = Uint16Array.from(tokens)
    changed[250] ^= 1
    assert.notStrictEqual(fp, datasetFingerprint(changed, params))
    // The same values as bytes are different data (a different vocabulary).
    const small = Uint16Array.from({ length: 50 }, (_, i) => i)
    assert.notStrictEqual(datasetFingerprint(small, params), datasetFingerprint(Uint8Array.from(small), params))

    const a = Effect.runSync(makeDataLoader(uint16Stream("a.bin", "nanogpt-uint16", tokens), { ...base, seed: 1 }))
    const b = Effect.runSync(
      makeDataLoader(uint16Stream("b.bin", "llmc-uint16", Uint16Array.from(tokens)), { ...base, seed: 2 })
    )
    assert.strictEqual(a.fingerprint, b.fingerprint)
  })
})

describe("DataLoader", () => {
  it.effect("serves the first count × batchSize validation windows in order, deterministically", () =>
    Effect.gen(function*() {
      const loader = yield* makeDataLoader(counting(1000), { ...base, valFraction: 0.2, seqLen: 10 })
      assert.strictEqual(loader.validationWindows, Math.floor((200 - 1) / 10))
      const batches = yield* loader.validationBatches(3, 2)
      assert.strictEqual(batches.length, 3)
      const starts = batches.flatMap((b) => [b.ids[0], b.ids[10]])
      assert.deepStrictEqual(starts, [800, 810, 820, 830, 840, 850])
      assert.deepStrictEqual(yield* loader.validationBatches(3, 2), batches)
      const error = yield* Effect.flip(loader.validationBatches(10, 2))
      assert.instanceOf(error, ValidationSetTooSmall)
      assert.deepStrictEqual([error.count, error.batchSize, error.available], [10, 2, 19])
    }))

  it.effect("exposes the geometry", () =>
    Effect.gen(function*() {
      const loader = yield* makeDataLoader(counting(1000), { ...base, batch: { global: 12, micro: 2, dp: 3 } })
      assert.strictEqual(loader.geometry.accumulation, 2)
      assert.deepStrictEqual(loader.rankMicroBatches(1), [1, 4])
    }))

  it.effect("microBatch j of a step is samples [cursor + jμ, cursor + (j+1)μ)", () =>
    Effect.gen(function*() {
      const loader = yield* makeDataLoader(counting(1000), { ...base, batch: { global: 6, micro: 2, dp: 1 } })
      const whole = loader.batchAt(41, 6)
      for (let j = 0; j < 3; j++) {
        const micro = loader.microBatch(41, j)
        assert.deepStrictEqual(micro.ids, whole.ids.slice(j * 2 * 4, (j + 1) * 2 * 4))
        assert.deepStrictEqual(micro.targets, whole.targets.slice(j * 2 * 4, (j + 1) * 2 * 4))
      }
    }))

  it.effect("checks the model vocabulary", () =>
    Effect.gen(function*() {
      const loader = yield* makeDataLoader(byteStream("bytes", new Uint8Array(100)), base)
      assert.strictEqual(loader.vocabSize, 256)
      yield* loader.checkVocab(256)
      const error = yield* Effect.flip(loader.checkVocab(255))
      assert.strictEqual(error._tag, "VocabSizeMismatch")
    }))
})

const mobyConfig: DataLoaderConfig = {
  source: "moby-dick",
  valFraction: 0.1,
  seqLen: 64,
  seed: 0,
  batch: { global: 16, micro: 8, dp: 2 }
}

layer(NodeFileSystem.layer)("DataLoader.layer", (it) => {
  it.effect("builds the default Moby-Dick run's data", () =>
    Effect.gen(function*() {
      const loader = yield* DataLoader.pipe(Effect.provide(DataLoader.layer(mobyConfig)))
      assert.strictEqual(loader.source, "moby-dick")
      assert.strictEqual(loader.validationTokens, Math.floor(loader.tokens * 0.1))
      assert.strictEqual(loader.trainTokens + loader.validationTokens, loader.tokens)
      assert.strictEqual(loader.windows, Math.floor((loader.trainTokens - 1) / 64))
      assert.strictEqual(loader.geometry.accumulation, 1)
      const batch = loader.microBatch(0, 1)
      assert.strictEqual(batch.ids.length, 8 * 64)
      // Inputs and targets are the same bytes, shifted by one.
      assert.deepStrictEqual(batch.ids.subarray(1, 64), batch.targets.subarray(0, 63))
      const again = yield* DataLoader.pipe(
        Effect.provide(DataLoader.layer({ ...mobyConfig, batch: { global: 16, micro: 4, dp: 1 } }))
      )
      assert.strictEqual(again.fingerprint, loader.fingerprint)
    }))

  it.effect("fails with a typed error naming a missing source", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Layer.build(DataLoader.layer({ ...mobyConfig, source: "/no/such/corpus.txt" })))
      assert.instanceOf(error, DataSourceNotFound)
      assert.strictEqual((error as DataSourceNotFound).path, "/no/such/corpus.txt")
    }))
})
