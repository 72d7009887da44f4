/**
 * What a checkpoint or run argument names, local or in an object store: `…/checkpoints/step-N`
 * and `s3://bucket/prefix/step-N` are one checkpoint; `s3://bucket/prefix` is the checkpoints of a
 * run. Every command that reads checkpoints (`--from`, inspect, export, sample) resolves its
 * argument here and opens the store through `openCheckpointStore`, so both kinds share one path.
 */
import * as NodePath from "node:path"
import { isObjectLocation, objectLocationUrl, parseObjectLocation } from "../config/objectLocation.ts"
import { checkpointsDir, locateCheckpointDir, parseStepDirName } from "./layout.ts"

/** The store a checkpoint lives in: `<runDir>/checkpoints`, or the object-store `location`. */
export interface StoreAddress {
  readonly runDir: string
  /** `s3://bucket/prefix`; undefined for checkpoints under `<runDir>/checkpoints`. */
  readonly location: string | undefined
}

/** An object-store argument: a run's checkpoints, or one of them when it ends in `step-N`. */
export interface ObjectAddress extends StoreAddress {
  readonly location: string
  readonly step: number | undefined
}

/**
 * `s3://bucket/prefix[/step-NNNNNNNN]` split into its store and step, or why it is no valid
 * location. The run directory of an object store is its URL: it only names the run in messages.
 */
export const locateObject = (url: string): ObjectAddress | string => {
  const parsed = parseObjectLocation(url)
  if (typeof parsed === "string") return parsed
  const segments = parsed.prefix === "" ? [] : parsed.prefix.split("/")
  const step = segments.length > 0 ? parseStepDirName(segments[segments.length - 1]!) : undefined
  const location = objectLocationUrl(
    step === undefined ? parsed : { bucket: parsed.bucket, prefix: segments.slice(0, -1).join("/") }
  )
  return { runDir: location, location, step }
}

/** One checkpoint, local or in an object store, or undefined when `reference` names none. */
export const locateCheckpoint = (
  reference: string
): (StoreAddress & { readonly step: number }) | undefined => {
  if (isObjectLocation(reference)) {
    const address = locateObject(reference)
    return typeof address === "string" || address.step === undefined ? undefined : { ...address, step: address.step }
  }
  const located = locateCheckpointDir(reference)
  return located === undefined ? undefined : { runDir: located.runDir, location: undefined, step: located.step }
}

/** Whether `address` is the store whose `location` (`CheckpointStoreShape.location`) is given. */
export const isStoreAt = (address: StoreAddress, location: string): boolean =>
  address.location !== undefined
    ? address.location === location
    : !isObjectLocation(location) && NodePath.resolve(checkpointsDir(address.runDir)) === NodePath.resolve(location)
