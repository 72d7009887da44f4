import { Effect, type FileSystem, Option, Result, Schema, SchemaIssue } from "effect"
import { readBoundedText } from "./boundedRead.ts"
import { ConfigError } from "./ConfigError.ts"
import { isJsonObject, jsonDepth, jsonKind, MAX_JSON_DEPTH, parseJson } from "./jsonText.ts"
import { RunConfig } from "./RunConfig.ts"

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

/**
 * The input with its defaults filled in and no rule checked. A rule that relates fields may blame
 * one the input leaves out; the value shown is then the default that the rule saw.
 */
const withDefaults = (input: unknown): unknown =>
  Option.getOrUndefined(Schema.decodeUnknownOption(RunConfig)(input, { disableChecks: true }))

/** The first issue of a failed decoding: the path it names, the value there and what is wrong. */
const configErrorOf = (input: unknown, error: Schema.SchemaError): ConfigError => {
  const first = formatIssues(error.issue).issues[0]
  const path = (first?.path ?? []).map((segment) => (typeof segment === "object" ? segment.key : segment))
  const given = valueAt(input, path)
  return new ConfigError({
    path: path.length === 0 ? "(root)" : path.map(String).join("."),
    value: show(given === undefined ? valueAt(withDefaults(input), path) : given),
    reason: (first?.message ?? error.message).replace("Expected no excess property", "unknown configuration key")
  })
}

/**
 * Decodes an encoded configuration (a JSON object) into a RunConfig, checking every field and
 * every rule between fields; unknown keys are errors.
 */
export const decodeRunConfigResult = (input: unknown): Result.Result<RunConfig, ConfigError> =>
  Result.mapError(
    Schema.decodeUnknownResult(RunConfig)(input, { onExcessProperty: "error" }),
    (error) => configErrorOf(input, error)
  )

/** `decodeRunConfigResult` as an Effect. */
export const decodeRunConfig = (input: unknown): Effect.Effect<RunConfig, ConfigError> =>
  Effect.fromResult(decodeRunConfigResult(input))

export const encodeRunConfig = (config: RunConfig): typeof RunConfig.Encoded => Schema.encodeSync(RunConfig)(config)

/** The reference configuration (docs/design.md). */
export const defaultRunConfig = (): RunConfig => Schema.decodeUnknownSync(RunConfig)({})

/** Parses one `--set path=value`; the value is JSON when it parses as JSON, else a plain string. */
export const parseOverride = (text: string): Effect.Effect<{ path: Array<string>; value: unknown }, ConfigError> => {
  const eq = text.indexOf("=")
  if (eq <= 0) {
    return Effect.fail(new ConfigError({ path: text, value: "(none)", reason: "expected --set path=value" }))
  }
  const raw = text.slice(eq + 1)
  const path = text.slice(0, eq).split(".")
  const depth = jsonDepth(raw)
  if (depth > MAX_JSON_DEPTH) {
    return Effect.fail(
      new ConfigError({
        path: path.join("."),
        value: `${raw.slice(0, 20)}…`,
        reason: `nested ${depth} levels deep, more than the ${MAX_JSON_DEPTH} allowed`
      })
    )
  }
  // Not JSON: keep the plain string (e.g. data.source=books/ or kernels.backend=gpujs).
  const value = Result.getOrElse(parseJson(raw), () => raw as unknown)
  return Effect.succeed({ path, value })
}

/**
 * Keys no path may use. `__proto__` (and, through it, `constructor.prototype`) would write to an
 * object's prototype rather than into a section; no configuration key is named like these.
 */
const isConfigKey = (key: string): boolean =>
  key !== "" && key !== "__proto__" && key !== "constructor" && key !== "prototype"

const isSection = isJsonObject

/**
 * Writes overrides into a copy of the encoded configuration. Unknown paths are rejected by
 * decoding; paths through an object's prototype are refused here, where the writing happens.
 */
export const applyOverrides = (
  encoded: unknown,
  overrides: ReadonlyArray<{ path: ReadonlyArray<string>; value: unknown }>
): Effect.Effect<Record<string, unknown>, ConfigError> =>
  Effect.gen(function*() {
    const root: unknown = structuredClone(encoded ?? {})
    if (!isSection(root)) {
      return yield* new ConfigError({ path: "(root)", value: show(encoded), reason: "expected a JSON object" })
    }
    for (const { path, value } of overrides) {
      const refuse = (reason: string) => new ConfigError({ path: path.join("."), value: show(value), reason })
      if (!path.every(isConfigKey)) return yield* refuse("not a configuration path")
      let section = root
      for (const key of path.slice(0, -1)) {
        if (!Object.hasOwn(section, key)) section[key] = {}
        const next = section[key]
        if (!isSection(next)) return yield* refuse(`${key} is not a section`)
        section = next
      }
      section[path[path.length - 1]!] = value
    }
    return root
  })

/** Configuration files are a few hundred bytes; anything past this is not a configuration. */
export const MAX_CONFIG_BYTES = 1024 * 1024

/**
 * Reads a configuration file: a regular file of at most `MAX_CONFIG_BYTES`, JSON nested at most
 * `MAX_JSON_DEPTH` levels, whose top level is an object (`null`, a string or a number is refused
 * rather than read as "all defaults").
 */
export const readConfigFile = (
  file: string
): Effect.Effect<Record<string, unknown>, ConfigError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const refuse = (reason: string) => new ConfigError({ path: "--config", value: file, reason })
    const text = yield* readBoundedText(file, MAX_CONFIG_BYTES).pipe(
      Effect.mapError((e) => refuse(e.phrase))
    )
    const json = yield* Effect.mapError(Effect.fromResult(parseJson(text)), refuse)
    if (!isJsonObject(json)) return yield* refuse(`expected a JSON object at the top level, found ${jsonKind(json)}`)
    return json
  })

/**
 * What a config file and `--set` overrides state, not yet decoded: the file's JSON (or `{}`)
 * with the overrides written into it.
 */
export const statedConfig = (file: string | undefined, sets: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const encoded = file === undefined ? {} : yield* readConfigFile(file)
    const overrides = yield* Effect.forEach(sets, parseOverride)
    return yield* applyOverrides(encoded, overrides)
  })

/**
 * `changes` written over a copy of `base`, both encoded configurations: sections merge key by
 * key, any other value (arrays included) replaces the base's.
 */
export const mergeEncoded = (base: unknown, changes: Record<string, unknown>): Record<string, unknown> => {
  const out: Record<string, unknown> = isSection(base) ? structuredClone(base) : {}
  for (const [key, value] of Object.entries(changes)) {
    const prior = isConfigKey(key) ? out[key] : undefined
    // Defined, not assigned: a key like `__proto__` stays an own key, which decoding refuses.
    Object.defineProperty(out, key, {
      value: isSection(value) && isSection(prior) ? mergeEncoded(prior, value) : value,
      enumerable: true,
      writable: true,
      configurable: true
    })
  }
  return out
}

/** Reads an optional JSON config file, applies `--set` overrides and decodes the result. */
export const loadRunConfig = (file: string | undefined, sets: ReadonlyArray<string>) =>
  Effect.flatMap(statedConfig(file, sets), decodeRunConfig)
