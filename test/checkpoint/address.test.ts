/**
 * What a checkpoint argument names: local checkpoint directories and `s3://` locations resolve to
 * a store and (for one checkpoint) a step, so every reading command opens stores one way.
 */
import { assert, describe, it } from "@effect/vitest"
import * as path from "node:path"
import { isStoreAt, locateCheckpoint, locateObject } from "../../src/checkpoint/address.ts"

describe("checkpoint addresses", () => {
  it("s3://bucket/prefix/step-N is one checkpoint; s3://bucket/prefix a run's checkpoints", () => {
    assert.deepStrictEqual(locateObject("s3://runs/a/b/step-00000008"), {
      runDir: "s3://runs/a/b",
      location: "s3://runs/a/b",
      step: 8
    })
    assert.deepStrictEqual(locateObject("s3://runs/a/b/"), {
      runDir: "s3://runs/a/b",
      location: "s3://runs/a/b",
      step: undefined
    })
    assert.deepStrictEqual(locateObject("s3://runs/step-00000004"), {
      runDir: "s3://runs",
      location: "s3://runs",
      step: 4
    })
    // Only the canonical spelling names a step.
    assert.strictEqual((locateObject("s3://runs/a/step-8") as { step: unknown }).step, undefined)
  })

  it("an invalid location says why", () => {
    for (const url of ["s3://Bad_Bucket/a", "s3://runs/a/../b", "s3://runs/a//step-00000008"]) {
      assert.isString(locateObject(url), url)
    }
  })

  it("locateCheckpoint names one checkpoint, local or in a bucket, or nothing", () => {
    assert.deepStrictEqual(locateCheckpoint("s3://runs/a/step-00000012"), {
      runDir: "s3://runs/a",
      location: "s3://runs/a",
      step: 12
    })
    assert.deepStrictEqual(locateCheckpoint("/r/run/checkpoints/step-00000012"), {
      runDir: "/r/run",
      location: undefined,
      step: 12
    })
    assert.isUndefined(locateCheckpoint("s3://runs/a"))
    assert.isUndefined(locateCheckpoint("/r/run"))
  })

  it("isStoreAt matches a store by its location, relative run directories included", () => {
    assert.isTrue(isStoreAt({ runDir: "s3://runs/a", location: "s3://runs/a" }, "s3://runs/a"))
    assert.isFalse(isStoreAt({ runDir: "s3://runs/a", location: "s3://runs/a" }, "s3://runs/b"))
    assert.isTrue(isStoreAt({ runDir: "run", location: undefined }, path.resolve("run", "checkpoints")))
    assert.isFalse(isStoreAt({ runDir: "run", location: undefined }, "s3://runs/run"))
    assert.isFalse(isStoreAt({ runDir: "s3://runs/a", location: "s3://runs/a" }, path.resolve("checkpoints")))
  })
})
