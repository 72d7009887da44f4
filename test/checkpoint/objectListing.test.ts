/**
 * Which listed objects the object store refuses to touch: keys that are no plain relative path
 * and sizes no S3 object can have. A folder marker (`dir/`, zero bytes) is harmless.
 */
import { assert, describe, it } from "@effect/vitest"
import { listedObjectProblem, MAX_OBJECT_BYTES } from "../../src/checkpoint/objectDisk.ts"

describe("listedObjectProblem", () => {
  it("accepts checkpoint files and folder markers", () => {
    for (
      const key of ["step-00000004/model.safetensors", "step-00000004/manifest.json", "notes.txt", "step-00000004/"]
    ) {
      assert.isUndefined(listedObjectProblem({ key, size: 0 }), key)
    }
    assert.isUndefined(listedObjectProblem({ key: "a/b", size: MAX_OBJECT_BYTES }))
  })

  it("refuses keys with empty, . or .. segments, backslashes and control characters", () => {
    for (
      const key of ["..", "step-00000004/..", "../x", "a//b", "./a", "a/.", "/a", "", "a\\..\\b", "a\u0000b", "a\nb"]
    ) {
      assert.isDefined(listedObjectProblem({ key, size: 1 }), JSON.stringify(key))
    }
    assert.isDefined(listedObjectProblem({ key: "dir/", size: 1 }), "a non-empty object named like a folder")
  })

  it("refuses sizes beyond S3's largest object, negative or not whole", () => {
    for (const size of [MAX_OBJECT_BYTES + 1, -1, 0.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.isDefined(listedObjectProblem({ key: "step-00000004/model.safetensors", size }), String(size))
    }
  })
})
