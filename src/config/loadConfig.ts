import { Effect, FileSystem, Schema, SchemaIssue } from "effect"
import { ConfigError } from "./ConfigError.ts"
import { RunConfig } from "./RunConfig.ts"
import { checkConsistency } from "./consistency.ts"

const formatIssues = SchemaIssue.makeFormatterStandardSchemaV1()

const valueAt = (input: unknown, path: ReadonlyArray<PropertyKey>): unknown => {
  let cursor: unknown = input
  for (const key of path) {
    if (cursor === null || typeof cursor !== "object") return undefined
    cursor = (cursor as Record<PropertyKey, unknown>)[key]
  }
  return cursor
}

const show = (value: unknown): string => (value === undefined ? "(missing)" : JSON.stringify(value))

/** Decodes an encoded configuration (JSON object) into a RunConfig; unknown keys are errors. */
export const decodeRunConfig = (input: unknown): Effect.Effect<RunConfig, ConfigError> =>
  Schema.decodeUnknownEffect(RunConfig)(input, { onExcessProperty: "error" }).pipe(
    Effect.mapError((error) => {
      const first = formatIssues(error.issue).issues[0]
      const path = (first?.path ?? []).map((segment) => (typeof segment === "object" ? segment.key : segment))
      return new ConfigError({
        path: path.length === 0 ? "(root)" : path.map(String).join("."),
        value: show(valueAt(input, path)),
        reason: (first?.message ?? error.message).replace("Expected no excess property", "unknown configuration key")
      })
    }),
    Effect.flatMap(checkConsistency)
  )

export const encodeRunConfig = (config: RunConfig): typeof RunConfig.Encoded => Schema.encodeSync(RunConfig)(config)

/** The reference configuration of DESIGN.md. */
export const defaultRunConfig = (): RunConfig => Schema.decodeUnknownSync(RunConfig)({})

/** Parses one `--set path=value`; the value is JSON when it parses as JSON, else a plain string. */
export const parseOverride = (text: string): Effect.Effect<{ path: Array<string>; value: unknown }, ConfigError> => {
  const eq = text.indexOf("=")
  if (eq <= 0) {
    return Effect.fail(new ConfigError({ path: text, value: "(none)", reason: "expected --set path=value" }))
  }
  const path = text.slice(0, eq).split(".")
  const raw = text.slice(eq + 1)
  let value: unknown = raw
  try {
    value = JSON.parse(raw)
  } catch {
    // not JSON: keep the plain string (e.g. data.source=books/ or kernels.backend=gpujs)
  }
  if (path.some((key) => key === "" || key === "__proto__" || key === "constructor" || key === "prototype")) {
    return Effect.fail(new ConfigError({ path: path.join("."), value: show(value), reason: "not a configuration path" }))
  }
  return Effect.succeed({ path, value })
}

/** Writes overrides into a copy of the encoded configuration. Unknown paths are rejected by decoding. */
export const applyOverrides = (
  encoded: unknown,
  overrides: ReadonlyArray<{ path: ReadonlyArray<string>; value: unknown }>
): Effect.Effect<Record<string, unknown>, ConfigError> =>
  Effect.gen(function*() {
    const root: Record<string, unknown> = structuredClone((encoded ?? {}) as Record<string, unknown>)
    for (const { path, value } of overrides) {
      let node = root
      for (const key of path.slice(0, -1)) {
        const next = node[key]
        if (next === undefined) node[key] = {}
        else if (next === null || typeof next !== "object" || Array.isArray(next)) {
          return yield* new ConfigError({ path: path.join("."), value: show(value), reason: `${key} is not a section` })
        }
        node = node[key] as Record<string, unknown>
      }
      node[path[path.length - 1]!] = value
    }
    return root
  })

/** Reads an optional JSON config file, applies `--set` overrides and decodes the result. */
export const loadRunConfig = (file: string | undefined, sets: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    let encoded: unknown = {}
    if (file !== undefined) {
      const fs = yield* FileSystem.FileSystem
      const text = yield* fs.readFileString(file).pipe(
        Effect.mapError((e) => new ConfigError({ path: "--config", value: file, reason: `cannot read: ${e.message}` }))
      )
      encoded = yield* Effect.try({
        try: () => JSON.parse(text) as unknown,
        catch: (e) => new ConfigError({ path: "--config", value: file, reason: `not valid JSON: ${String(e)}` })
      })
    }
    const overrides = yield* Effect.forEach(sets, parseOverride)
    const merged = yield* applyOverrides(encoded, overrides)
    return yield* decodeRunConfig(merged)
  })
