/**
 * The lineage of a checkpoint: the chain of checkpoints its run was resumed from, followed
 * through `parent` links in the manifests of the same checkpoints directory.
 */
import { Effect, Result } from "effect"
import type { CheckpointStoreShape } from "../checkpoint/CheckpointStore.ts"
import { stepDirName } from "../checkpoint/layout.ts"
import type { Lineage, Manifest } from "../checkpoint/manifest.ts"

/** One checkpoint of a lineage; `resumedWith` is the policy that started its run from the next one. */
export interface LineageNode {
  readonly runId: string
  readonly step: number
  readonly location: string
  readonly time: string
  readonly resumedWith?: string
}

export type LineageEnd =
  /** The oldest checkpoint found has no parent: its run started fresh. */
  | { readonly kind: "origin" }
  /** The oldest checkpoint found names a parent that cannot be found or read. */
  | { readonly kind: "unresolved"; readonly parent: Lineage; readonly reason: string }

export interface LineageReport {
  /** Newest first; the first node is the checkpoint inspected. */
  readonly chain: ReadonlyArray<LineageNode>
  readonly end: LineageEnd
}

/** Why a parent could not be read, naming the step directory when it is missing. */
const describeReadFailure = (
  error: { readonly _tag: string; readonly message: string },
  store: CheckpointStoreShape,
  step: number
) => error._tag === "CheckpointNotFound" ? `no ${stepDirName(step)} in ${store.location}` : error.message

/**
 * Follows `parent` links through the same checkpoints directory: a parent `{runId, step}` is the
 * checkpoint of that step there, if it belongs to that run. Stops at a fresh start, or at the
 * first parent that is missing, unreadable, of another run, or already seen.
 */
export const lineageOf = (store: CheckpointStoreShape, location: string, manifest: Manifest) =>
  Effect.gen(function*() {
    const node = (m: Manifest, at: string): LineageNode => ({
      runId: m.runId,
      step: m.step,
      location: at,
      time: m.time,
      ...(m.parent === undefined ? {} : { resumedWith: m.parent.policy })
    })
    const chain: Array<LineageNode> = [node(manifest, location)]
    const seen = new Set([`${manifest.runId}@${manifest.step}`])
    let current = manifest
    while (current.parent !== undefined) {
      const parent = current.parent
      const unresolved = (reason: string): LineageReport => ({ chain, end: { kind: "unresolved", parent, reason } })
      const key = `${parent.runId}@${parent.step}`
      if (seen.has(key)) {
        return unresolved(`step ${parent.step} of run ${parent.runId} is already in this lineage (a cycle)`)
      }
      seen.add(key)
      const found = yield* Effect.result(store.manifest(parent.step))
      if (Result.isFailure(found)) return unresolved(describeReadFailure(found.failure, store, parent.step))
      const ref = found.success
      if (ref.manifest.runId !== parent.runId) {
        return unresolved(`${ref.location} belongs to run ${ref.manifest.runId}, not ${parent.runId}`)
      }
      chain.push(node(ref.manifest, ref.location))
      current = ref.manifest
    }
    return { chain, end: { kind: "origin" } } satisfies LineageReport
  })
