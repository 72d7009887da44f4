import { Effect, Scope } from "effect"
import { Worker } from "node:worker_threads"
import { CheckpointIoError } from "./errors.ts"

/** One checkpoint directory to write: component files, then the manifest, then the rename. */
export interface CheckpointWriteJob {
  readonly root: string
  readonly temp: string
  readonly target: string
  /** Where an existing checkpoint of the same step steps aside while the new one moves in. */
  readonly displaced: string
  readonly files: ReadonlyArray<{
    readonly component: string
    readonly name: string
    readonly bytes: Uint8Array
    /** A unique 64-hex string in `manifest` that the worker replaces with this file's sha256. */
    readonly placeholder: string
  }>
  readonly manifestName: string
  readonly manifest: string
}

export interface BackgroundWriter {
  /** Writes the checkpoint on the writer thread; returns the sha256 of each component file. */
  readonly write: (job: CheckpointWriteJob) => Effect.Effect<Record<string, string>, CheckpointIoError>
}

/**
 * A worker thread that writes checkpoints with blocking file calls, so a save progresses while
 * the main thread is busy in a synchronous training step. Terminated when the scope closes.
 */
export const makeBackgroundWriter: Effect.Effect<BackgroundWriter, never, Scope.Scope> = Effect.gen(function*() {
  const pending = new Map<number, (reply: { hashes?: Record<string, string>; error?: string }) => void>()
  let nextId = 0
  const worker = yield* Effect.acquireRelease(
    Effect.sync(() => {
      const w = new Worker(new URL("./writerWorker.mjs", import.meta.url))
      w.unref() // an idle writer must not keep the process alive
      w.on("message", (reply: { id: number; hashes?: Record<string, string>; error?: string }) => {
        pending.get(reply.id)?.(reply)
        pending.delete(reply.id)
      })
      w.on("error", (error) => {
        for (const resolve of pending.values()) resolve({ error: error.message })
        pending.clear()
      })
      return w
    }),
    (w) => Effect.promise(() => w.terminate())
  )
  const write = (job: CheckpointWriteJob) =>
    Effect.callback<Record<string, string>, CheckpointIoError>((resume) => {
      const id = nextId++
      pending.set(id, (reply) =>
        resume(
          reply.error === undefined
            ? Effect.succeed(reply.hashes ?? {})
            : Effect.fail(new CheckpointIoError({ operation: "write", path: job.target, detail: reply.error }))
        ))
      worker.ref() // keep the process alive while a save is in flight
      worker.postMessage({ id, job })
    }).pipe(Effect.ensuring(Effect.sync(() => {
      if (pending.size === 0) worker.unref()
    })))
  return { write }
})
