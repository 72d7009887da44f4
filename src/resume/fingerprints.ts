/**
 * Configuration fingerprints written into checkpoint manifests: equal fingerprints mean equal
 * trajectory-relevant configuration (resp. equal parameter names and shapes), whatever the
 * non-trajectory settings, key order or defaults written out.
 */
import { createHash } from "node:crypto"
import { canonicalJson } from "../checkpoint/canonicalJson.ts"
import type { ModelConfig, RunConfig } from "../config/RunConfig.ts"
import { modelFromConfig } from "../model/fromConfig.ts"
import type { ParamSpec } from "../model/model.ts"
import { configLeaves, isTrajectoryPath, normalizedEncoding } from "./changes.ts"

export const TRAJECTORY_FINGERPRINT_VERSION = "continuum-trajectory/1"
export const MODEL_FINGERPRINT_VERSION = "continuum-model/1"

const sha256Hex = (text: string): string => createHash("sha256").update(text, "utf8").digest("hex")

/** The trajectory-relevant leaves of a configuration, path → encoded value. */
export const trajectoryLeaves = (config: RunConfig): Record<string, unknown> => {
  const leaves: Record<string, unknown> = {}
  for (const [path, value] of configLeaves(normalizedEncoding(config))) {
    if (isTrajectoryPath(path)) leaves[path] = value
  }
  return leaves
}

/** sha256 (hex) of the canonical JSON of the trajectory-relevant configuration. */
export const trajectoryFingerprint = (config: RunConfig): string =>
  sha256Hex(canonicalJson({ format: TRAJECTORY_FINGERPRINT_VERSION, config: trajectoryLeaves(config) }))

/** sha256 (hex) of the model kind and every parameter's name and shape, in canonical order. */
export const paramsFingerprint = (kind: string, params: ReadonlyArray<Pick<ParamSpec, "name" | "shape">>): string =>
  sha256Hex(
    canonicalJson({
      format: MODEL_FINGERPRINT_VERSION,
      kind,
      params: params.map((p) => [p.name, [...p.shape]])
    })
  )

/** The architecture fingerprint of a decoded model configuration. */
export const modelFingerprint = (config: ModelConfig): string =>
  paramsFingerprint(config.kind, modelFromConfig(config).params)
