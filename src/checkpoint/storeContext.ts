/**
 * What every part of one checkpoint store works on: its storage backend, its directory and its
 * record of the checkpoints it wrote itself.
 */
import { randomBytes } from "node:crypto"
import type { CheckpointDisk, CheckpointReader } from "./disk.ts"
import { joinLocation, stepDirName } from "./layout.ts"

export interface StoreContext<Disk extends CheckpointReader = CheckpointDisk> {
  readonly disk: Disk
  /** `<runDir>/checkpoints`, or an object-store URL (`s3://bucket/prefix`). */
  readonly root: string
  /**
   * Steps this store has itself written and published. Retention trusts these without hashing
   * them again, which would otherwise cost as much as the save on every checkpoint. Reading or
   * deleting a step drops it, so from then on it is verified like any other.
   */
  readonly written: Set<number>
}

/** The directory of one step's checkpoint. */
export const stepLocation = (context: StoreContext<CheckpointReader>, step: number): string =>
  joinLocation(context.root, stepDirName(step))

/** A suffix that keeps the names of concurrent temporary directories apart. */
export const randomId = (): string => randomBytes(6).toString("hex")

/** What the read side (listing, verifying, loading) works on: any backend that can be read. */
export type ReadContext = StoreContext<CheckpointReader>
