/**
 * Names and paths of the checkpoint directory tree:
 *
 * ```
 * <runDir>/checkpoints/step-00000300/{manifest.json, model.safetensors, optimizer.safetensors}
 * <runDir>/checkpoints/.tmp-step-300-<id>/        a save in progress (ignored, cleaned)
 * <runDir>/checkpoints/.replaced-step-300-<id>/   a checkpoint being replaced by a newer save
 * ```
 */
import * as NodePath from "node:path"
import type { ComponentName } from "./manifest.ts"

export const CHECKPOINTS_DIR = "checkpoints"
export const TEMP_PREFIX = ".tmp-"
export const REPLACED_PREFIX = ".replaced-"

export const componentFileName = (component: ComponentName): string => `${component}.safetensors`

export const checkpointsDir = (runDir: string): string => NodePath.join(runDir, CHECKPOINTS_DIR)

/**
 * `dir/name` for a local path or an object-store URL (`s3://bucket/prefix`): a URL is joined with
 * one slash, as `NodePath.join` would fold its `//` away.
 */
export const joinLocation = (dir: string, name: string): string =>
  /^[a-z][a-z0-9+.-]*:\/\//.test(dir) ? `${dir.replace(/\/+$/, "")}/${name}` : NodePath.join(dir, name)

/** `step-00000300`: zero-padded to 8 digits so names sort like steps; wider steps keep all digits. */
export const stepDirName = (step: number): string => `step-${String(step).padStart(8, "0")}`

/**
 * The step of a `step-…` directory name, or undefined for any other name. Only the canonical
 * spelling counts, so `step-300` and `step-00000300` can never both claim step 300.
 */
export const parseStepDirName = (name: string): number | undefined => {
  const match = /^step-(\d{8,16})$/.exec(name)
  if (match === null) return undefined
  const step = Number(match[1])
  return Number.isSafeInteger(step) && stepDirName(step) === name ? step : undefined
}

export const tempDirName = (step: number, id: string): string => `${TEMP_PREFIX}step-${step}-${id}`

export const replacedDirName = (step: number, id: string): string => `${REPLACED_PREFIX}${stepDirName(step)}-${id}`

/** The step a `.replaced-step-…-<id>` directory belonged to, or undefined. */
export const parseReplacedDirName = (name: string): number | undefined => {
  const match = /^\.replaced-(step-\d{8,16})-[A-Za-z0-9]+$/.exec(name)
  return match === null ? undefined : parseStepDirName(match[1])
}

/**
 * Splits a checkpoint directory path (`…/<runDir>/checkpoints/step-00000300`) into its run
 * directory and step, or undefined when the path does not name one.
 */
export const locateCheckpointDir = (path: string): { readonly runDir: string; readonly step: number } | undefined => {
  const resolved = NodePath.resolve(path)
  const step = parseStepDirName(NodePath.basename(resolved))
  const parent = NodePath.dirname(resolved)
  if (step === undefined || NodePath.basename(parent) !== CHECKPOINTS_DIR) return undefined
  return { runDir: NodePath.dirname(parent), step }
}
