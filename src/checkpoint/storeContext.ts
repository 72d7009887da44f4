/**
 * What every part of one checkpoint store works on: its storage backend, its directory and its
 * record of the checkpoints it wrote itself.
 */
import { createHash, randomBytes } from "node:crypto"
import * as NodePath from "node:path"
import type { CheckpointDisk } from "./disk.ts"
import { stepDirName } from "./layout.ts"

export interface StoreContext {
  readonly disk: CheckpointDisk
  /** `<runDir>/checkpoints`. */
  readonly root: string
  /**
   * Steps this store has itself written and published. Retention trusts these without hashing
   * them again, which would otherwise cost as much as the save on every checkpoint. Reading or
   * deleting a step drops it, so from then on it is verified like any other.
   */
  readonly written: Set<number>
}

/** The directory of one step's checkpoint. */
export const stepLocation = (context: StoreContext, step: number): string =>
  NodePath.join(context.root, stepDirName(step))

export const sha256Hex = (bytes: Uint8Array): string => createHash("sha256").update(bytes).digest("hex")

/** Bytes hashed between two progress reports: a large file reports as it goes. */
const HASH_CHUNK = 16 * 1024 * 1024

/**
 * The same digest as `sha256Hex`, computed in chunks with `onChunk(bytesHashed)` after each, so a
 * caller can show how far the hashing of a large file is.
 */
export const sha256HexReporting = (bytes: Uint8Array, onChunk: (hashed: number) => void): string => {
  const hash = createHash("sha256")
  for (let offset = 0; offset < bytes.length; offset += HASH_CHUNK) {
    const end = Math.min(bytes.length, offset + HASH_CHUNK)
    hash.update(bytes.subarray(offset, end))
    onChunk(end)
  }
  if (bytes.length === 0) onChunk(0)
  return hash.digest("hex")
}

/** A suffix that keeps the names of concurrent temporary directories apart. */
export const randomId = (): string => randomBytes(6).toString("hex")
