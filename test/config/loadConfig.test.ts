import { NodeFileSystem } from "@effect/platform-node"
import { assert, describe, it, layer } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { ConfigError } from "../../src/config/ConfigError.ts"
import {
  applyOverrides,
  decodeRunConfig,
  defaultRunConfig,
  encodeRunConfig,
  loadRunConfig,
  parseOverride
} from "../../src/config/loadConfig.ts"

/** The message of the error decoding `input` fails with: `path = value: reason`. */
const rejection = (input: unknown) =>
  Effect.map(Effect.flip(decodeRunConfig(input)), (error) => {
    assert.instanceOf(error, ConfigError)
    return error.message
  })

const configFile = (content: string): string => {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "continuum-config-")), "run.json")
  fs.writeFileSync(file, content)
  return file
}

const prototypes = [Object.prototype, Array.prototype, Function.prototype]
const assertNoPollution = () => {
  for (const proto of prototypes) assert.isFalse(Object.hasOwn(proto, "polluted"), "a prototype was written to")
  assert.isUndefined(({} as Record<string, unknown>).polluted)
}

describe("decodeRunConfig", () => {
  it.effect("decodes {} to the reference configuration, and its encoded form back to itself", () =>
    Effect.gen(function*() {
      const config = yield* decodeRunConfig({})
      assert.deepStrictEqual(config, defaultRunConfig())
      assert.strictEqual(config.model.dim, 64)
      assert.strictEqual(config.schedule.decayRatio, 0.2)
      assert.deepStrictEqual(yield* decodeRunConfig(encodeRunConfig(config)), config)
    }))

  it.effect("names the path and the value of a value out of range", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(decodeRunConfig({ model: { dim: -3 } }))
      assert.deepStrictEqual([error.path, error.value, error.reason], [
        "model.dim",
        "-3",
        "Expected a value greater than 0"
      ])
      assert.strictEqual(error.message, "model.dim = -3: Expected a value greater than 0")
      assert.strictEqual(yield* rejection({ steps: 1.5 }), "steps = 1.5: Expected an integer")
      assert.strictEqual(
        yield* rejection({ data: { valFraction: 1 } }),
        "data.valFraction = 1: Expected a value between 0 and 1 (excluded)"
      )
      assert.strictEqual(
        yield* rejection({ optimizer: { betas: [0.9, 1] } }),
        "optimizer.betas.1 = 1: Expected a value between 0 and 1 (excluded)"
      )
    }))

  it.effect("refuses unknown keys at any depth, naming them", () =>
    Effect.gen(function*() {
      assert.strictEqual(yield* rejection({ mystery: true }), "mystery = true: unknown configuration key")
      assert.strictEqual(yield* rejection({ model: { foo: 1 } }), "model.foo = 1: unknown configuration key")
    }))

  it.effect("refuses values of the wrong type, naming them", () =>
    Effect.gen(function*() {
      assert.strictEqual(yield* rejection({ model: { dim: "abc" } }), "model.dim = \"abc\": Expected number")
      assert.strictEqual(yield* rejection({ model: 3 }), "model = 3: Expected object")
      assert.strictEqual(
        yield* rejection({ checkpoint: { async: "yes" } }),
        "checkpoint.async = \"yes\": Expected boolean"
      )
      assert.include(yield* rejection({ kernels: { backend: "cuda" } }), "kernels.backend = \"cuda\": Expected ")
      assert.include(yield* rejection(5), "(root) = 5: Expected ")
    }))
})

describe("--set parsing", () => {
  it.effect("splits at the first '=' into a dotted path and a value", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(yield* parseOverride("steps=900"), { path: ["steps"], value: 900 })
      assert.deepStrictEqual(yield* parseOverride("model.dim=128"), { path: ["model", "dim"], value: 128 })
      assert.deepStrictEqual(yield* parseOverride("runDir=runs/a=b"), { path: ["runDir"], value: "runs/a=b" })
    }))

  it.effect("reads the value as JSON when it parses as JSON", () =>
    Effect.gen(function*() {
      const value = (text: string) => Effect.map(parseOverride(text), (o) => o.value)
      assert.strictEqual(yield* value("optimizer.lr=1e-3"), 1e-3)
      assert.strictEqual(yield* value("checkpoint.async=false"), false)
      assert.deepStrictEqual(yield* value("optimizer.betas=[0.8,0.9]"), [0.8, 0.9])
      assert.deepStrictEqual(yield* value("model={\"dim\":32,\"heads\":2}"), { dim: 32, heads: 2 })
      assert.strictEqual(yield* value("data.source=\"42\""), "42")
      assert.isNull(yield* value("schedule.decaySteps=null"))
    }))

  it.effect("keeps a value that is not JSON as a plain string", () =>
    Effect.gen(function*() {
      const value = (text: string) => Effect.map(parseOverride(text), (o) => o.value)
      assert.strictEqual(yield* value("data.source=books/"), "books/")
      assert.strictEqual(yield* value("kernels.backend=gpujs"), "gpujs")
      assert.strictEqual(yield* value("runDir="), "")
    }))

  it.effect("refuses text without a path", () =>
    Effect.gen(function*() {
      for (const text of ["noequals", "=3"]) {
        const error = yield* Effect.flip(parseOverride(text))
        assert.strictEqual(error.message, `${text} = (none): expected --set path=value`)
      }
    }))
})

describe("applyOverrides", () => {
  it.effect("writes nested paths into a copy, creating the sections it needs", () =>
    Effect.gen(function*() {
      const encoded = { model: { dim: 32 } }
      const merged = yield* applyOverrides(encoded, [
        { path: ["model", "heads"], value: 2 },
        { path: ["schedule", "kind"], value: "constant" },
        { path: ["model", "dim"], value: 48 }
      ])
      assert.deepStrictEqual(merged, { model: { dim: 48, heads: 2 }, schedule: { kind: "constant" } })
      assert.deepStrictEqual(encoded, { model: { dim: 32 } })
    }))

  it.effect("refuses to write below a value that is not a section", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(applyOverrides({ steps: 3 }, [{ path: ["steps", "x"], value: 1 }]))
      assert.strictEqual(error.message, "steps.x = 1: steps is not a section")
    }))

  it.effect("refuses a configuration that is not an object", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(applyOverrides([1], []))
      assert.strictEqual(error.message, "(root) = [1]: expected a JSON object")
    }))
})

describe("prototype keys", () => {
  for (const key of ["__proto__", "constructor", "prototype"]) {
    it.effect(`${key} is refused anywhere in a path, and no prototype changes`, () =>
      Effect.gen(function*() {
        for (const path of [[key, "polluted"], ["model", key, "polluted"], [key]]) {
          const error = yield* Effect.flip(applyOverrides({}, [{ path, value: 1 }]))
          assert.strictEqual(error.message, `${path.join(".")} = 1: not a configuration path`)
        }
        assertNoPollution()
      }))
  }

  it.effect("constructor.prototype does not reach Object.prototype", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        applyOverrides({}, [{ path: ["constructor", "prototype", "polluted"], value: 1 }])
      )
      assert.strictEqual(error.reason, "not a configuration path")
      assertNoPollution()
    }))

  it.effect("an own __proto__ key (in a file or a JSON value) is an unknown key, not a prototype", () =>
    Effect.gen(function*() {
      const file = JSON.parse("{\"__proto__\": {\"steps\": 3, \"polluted\": 1}}") as unknown
      assert.strictEqual(
        yield* rejection(yield* applyOverrides(file, [])),
        "__proto__ = {\"steps\":3,\"polluted\":1}: unknown configuration key"
      )
      const set = yield* parseOverride("model={\"__proto__\":{\"polluted\":1}}")
      assert.strictEqual(
        yield* rejection(yield* applyOverrides({}, [set])),
        "model.__proto__ = {\"polluted\":1}: unknown configuration key"
      )
      assertNoPollution()
    }))
})

layer(NodeFileSystem.layer)("loadRunConfig", (it) => {
  it.effect("reads the JSON file, applies --set on top and decodes the result", () =>
    Effect.gen(function*() {
      const file = configFile(JSON.stringify({ steps: 100, model: { dim: 32, heads: 8 } }))
      const config = yield* loadRunConfig(file, ["model.heads=2", "data.source=books/", "schedule.warmupSteps=10"])
      assert.deepStrictEqual(
        [config.steps, config.model.dim, config.model.heads, config.data.source, config.schedule.warmupSteps],
        [100, 32, 2, "books/", 10]
      )
      assert.deepStrictEqual(yield* loadRunConfig(undefined, []), defaultRunConfig())
    }))

  it.effect("names the file it cannot read or parse", () =>
    Effect.gen(function*() {
      const missing = yield* Effect.flip(loadRunConfig("/no/such/run.json", []))
      assert.deepStrictEqual([missing.path, missing.value], ["--config", "/no/such/run.json"])
      assert.match(missing.reason, /^cannot read: /)
      const broken = configFile("{ steps: 3 }")
      const notJson = yield* Effect.flip(loadRunConfig(broken, []))
      assert.deepStrictEqual([notJson.path, notJson.value], ["--config", broken])
      assert.match(notJson.reason, /^not valid JSON: /)
    }))

  it.effect("names a bad value the same way whether it came from the file or from --set", () =>
    Effect.gen(function*() {
      const fromFile = yield* Effect.flip(loadRunConfig(configFile("{\"model\": {\"dim\": -3}}"), []))
      const fromSet = yield* Effect.flip(loadRunConfig(undefined, ["model.dim=-3"]))
      assert.strictEqual(fromFile.message, "model.dim = -3: Expected a value greater than 0")
      assert.strictEqual(fromSet.message, fromFile.message)
    }))

  it.effect("refuses prototype keys from --set", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(loadRunConfig(undefined, ["__proto__.polluted=1"]))
      assert.strictEqual(error.message, "__proto__.polluted = 1: not a configuration path")
      assertNoPollution()
    }))
})
