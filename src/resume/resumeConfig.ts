/**
 * The configuration a resumed run runs with. A checkpoint stores the full configuration of the
 * run that saved it, so a resume starts from that rather than from the built-in reference: the
 * config file and `--set` overrides state only what changes. A fresh run, and a resume from a
 * weights file (which stores no configuration), start from the reference as before.
 *
 * The run directory is never taken from a checkpoint (it may have been moved, or belong to
 * another run): it is `runDir` as stated by `--set` or the config file, else the reference's; and
 * neither is `checkpoint.location`, for the same reasons.
 * Without `--from`, the base is the newest checkpoint of that directory that verifies and whose
 * configuration decodes; with `--from` a checkpoint directory, that checkpoint's. When there is
 * none, the reference is the base and the resume reports what is missing itself.
 */
import { Effect, FileSystem, Option, Result } from "effect"
import { locateCheckpoint } from "../checkpoint/address.ts"
import { type CheckpointStoreShape, openCheckpointStore } from "../checkpoint/CheckpointStore.ts"
import type { Manifest } from "../checkpoint/manifest.ts"
import { decodeRunConfig, defaultRunConfig, mergeEncoded, statedConfig } from "../config/loadConfig.ts"
import { parseObjectLocation } from "../config/objectLocation.ts"
import type { RunConfig } from "../config/RunConfig.ts"
import { decodeStoredConfig } from "./changes.ts"

export interface ConfigRequest {
  /** `--config`: a JSON file of settings. */
  readonly config: string | undefined
  /** `--set path=value`, in order. */
  readonly set: ReadonlyArray<string>
  readonly resume: string | undefined
  readonly from: string | undefined
}

export interface ResolvedConfig {
  readonly config: RunConfig
  /** The checkpoint whose configuration is the base; undefined when the reference is. */
  readonly base: string | undefined
}

/** The checkpoint's configuration if it verifies and its configuration decodes. */
const soundConfig = (store: CheckpointStoreShape, step: number) =>
  Effect.gen(function*() {
    const report = yield* Effect.result(store.verify(step))
    if (Result.isFailure(report)) return Option.none<{ location: string; manifest: Manifest }>()
    const { location, manifest, problems } = report.success
    if (problems.length > 0 || Option.isNone(manifest)) return Option.none()
    if (Result.isFailure(decodeStoredConfig(manifest.value.config))) return Option.none()
    return Option.some({ location, manifest: manifest.value })
  })

const readOnlyStore = (runDir: string, location?: string) =>
  openCheckpointStore(runDir, location, { cleanOnStart: false })

/** The checkpoint whose configuration a resume is based on, if any (see the module comment). */
const baseCheckpoint = (from: string | undefined, runDir: string, location: string | undefined) =>
  Effect.scoped(Effect.gen(function*() {
    if (from !== undefined) {
      const located = locateCheckpoint(from)
      if (located === undefined) return Option.none()
      return yield* soundConfig(yield* readOnlyStore(located.runDir, located.location), located.step)
    }
    const store = yield* readOnlyStore(runDir, location)
    for (const { step } of yield* store.list) {
      const sound = yield* soundConfig(store, step)
      if (Option.isSome(sound)) return sound
    }
    return Option.none()
  }))

/**
 * `checkpoint.location` as stated, when it is a valid one: where the base checkpoint is looked
 * for. The run directory is never taken from a checkpoint, and neither is where checkpoints live.
 */
const statedLocation = (stated: Record<string, unknown>): string | undefined => {
  const section = stated["checkpoint"]
  if (section === null || typeof section !== "object") return undefined
  const location = (section as Record<string, unknown>)["location"]
  return typeof location === "string" && typeof parseObjectLocation(location) !== "string" ? location : undefined
}

/**
 * A stored configuration without its `checkpoint.location`: like the run directory, where a run's
 * checkpoints go is what the run states, never what the checkpoint it starts from recorded — a
 * run started `--from` another run's bucket must not write into that run's history.
 */
const withoutLocation = (config: unknown): unknown => {
  if (config === null || typeof config !== "object") return config
  const section = (config as Record<string, unknown>)["checkpoint"]
  if (section === null || typeof section !== "object" || !("location" in section)) return config
  const { location: _dropped, ...checkpoint } = section as Record<string, unknown>
  return { ...(config as Record<string, unknown>), checkpoint }
}

/** The run's configuration: the stated changes over the checkpoint's own, or over the reference. */
export const resolveConfig = (request: ConfigRequest) =>
  Effect.gen(function*() {
    const stated = yield* statedConfig(request.config, request.set)
    const fromWeights = request.from?.endsWith(".safetensors") === true
    if (request.resume === undefined || fromWeights) {
      return { config: yield* decodeRunConfig(stated), base: undefined } satisfies ResolvedConfig
    }
    const runDir = stated.runDir ?? defaultRunConfig().runDir
    const base = typeof runDir === "string"
      ? yield* baseCheckpoint(request.from, runDir, statedLocation(stated)).pipe(
        Effect.orElseSucceed(() => Option.none())
      )
      : Option.none()
    if (Option.isNone(base)) return { config: yield* decodeRunConfig(stated), base: undefined } satisfies ResolvedConfig
    const merged = { ...mergeEncoded(withoutLocation(base.value.manifest.config), stated), runDir }
    return { config: yield* decodeRunConfig(merged), base: base.value.location } satisfies ResolvedConfig
  })
