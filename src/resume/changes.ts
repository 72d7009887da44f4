/**
 * What changed between the configuration a checkpoint was written with and the new one, leaf by
 * leaf, each change marked as trajectory-relevant or not (docs/design.md, "The determinism contract").
 *
 * Paths are the dotted paths of the CLI contract (`optimizer.betas`, `batch.dp`); arrays are
 * leaves. Both sides are compared in their encoded (JSON) form after decoding with defaults, so a
 * key absent from an older configuration compares equal to its default.
 */
import { Result, Schema } from "effect"
import { canonicalJson } from "../checkpoint/canonicalJson.ts"
import { RunConfig } from "../config/RunConfig.ts"
import { warmupStepsOf } from "../config/scheduleConfig.ts"

export const ConfigChange = Schema.Struct({
  path: Schema.String,
  /** The old value; `null` when the key is not set (JSON configurations never hold `null`). */
  old: Schema.Json,
  /** The new value; `null` when the key is not set. */
  new: Schema.Json,
  /** Whether the change can alter the training trajectory (losses and parameters). */
  trajectory: Schema.Boolean
})
export type ConfigChange = typeof ConfigChange.Type

/**
 * Paths that cannot change the trajectory. The step gradient is the in-order sum of micro-batch
 * gradients whatever the data-parallel degree, so `batch.dp` is free; `batch.micro` is not (the
 * micro-batch boundaries change the float summation), nor is `kernels.*` (another backend rounds
 * differently).
 */
const NON_TRAJECTORY_PATHS: ReadonlySet<string> = new Set(["runDir", "batch.dp"])
const NON_TRAJECTORY_SECTIONS: ReadonlyArray<string> = ["eval", "checkpoint"]

export const isTrajectoryPath = (path: string): boolean =>
  !NON_TRAJECTORY_PATHS.has(path) &&
  !NON_TRAJECTORY_SECTIONS.some((section) => path === section || path.startsWith(`${section}.`))

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/** Leaf path → value of an encoded configuration, in key order. */
export const configLeaves = (encoded: unknown): Map<string, Schema.Json> => {
  const leaves = new Map<string, Schema.Json>()
  const walk = (node: unknown, prefix: string): void => {
    if (isPlainObject(node)) {
      for (const [key, value] of Object.entries(node)) {
        if (value !== undefined) walk(value, prefix === "" ? key : `${prefix}.${key}`)
      }
      return
    }
    leaves.set(prefix, node as Schema.Json)
  }
  if (isPlainObject(encoded)) walk(encoded, "")
  return leaves
}

const decodeConfig = Schema.decodeUnknownResult(RunConfig)

/**
 * Decodes a stored (encoded) configuration, filling in defaults. Unknown keys are errors: a key
 * this build does not know could hide a change it cannot judge.
 */
export const decodeStoredConfig = (encoded: unknown): Result.Result<RunConfig, string> => {
  const decoded = decodeConfig(encoded, { onExcessProperty: "error" })
  return Result.isSuccess(decoded) ? Result.succeed(decoded.success) : Result.fail(decoded.failure.message)
}

const encodeConfig = Schema.encodeSync(RunConfig)

/**
 * The encoded form of a configuration with every default written out, as it is compared: the
 * warm-up as the integer it resolves to (`schedule.warmupSteps`), however it was given. A warm-up
 * fraction means other steps at another total, and the steps are what trains; a configuration
 * that says `warmupSteps: 50` and one that says `warmupRatio: 1/12` at 600 steps run the same
 * schedule and compare (and fingerprint) equal.
 */
export const normalizedEncoding = (config: RunConfig): unknown => {
  const encoded = encodeConfig(config)
  const { warmupRatio: _ratio, ...schedule } = encoded.schedule ?? {}
  return { ...encoded, schedule: { ...schedule, warmupSteps: warmupStepsOf(config.schedule, config.steps) } }
}

/**
 * The leaves in which `oldEncoded` (a stored, encoded configuration) and `next` differ, in the
 * order of the new configuration's keys, then keys only the old one has. When the old
 * configuration does not decode, its raw leaves are compared as they are, so nothing is hidden
 * (absent keys then show as changes from `null`).
 */
export const diffConfigs = (oldEncoded: unknown, next: RunConfig): Array<ConfigChange> => {
  const decodedOld = decodeStoredConfig(oldEncoded)
  const oldLeaves = configLeaves(Result.isSuccess(decodedOld) ? normalizedEncoding(decodedOld.success) : oldEncoded)
  const newLeaves = configLeaves(normalizedEncoding(next))
  const paths = [...newLeaves.keys(), ...[...oldLeaves.keys()].filter((path) => !newLeaves.has(path))]
  const changes: Array<ConfigChange> = []
  for (const path of paths) {
    const old = oldLeaves.get(path) ?? null
    const now = newLeaves.get(path) ?? null
    if (canonicalJson(old) !== canonicalJson(now)) {
      changes.push({ path, old, new: now, trajectory: isTrajectoryPath(path) })
    }
  }
  return changes
}
