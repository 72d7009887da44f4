/**
 * A checkpoint disk whose writes run on a worker thread (writerWorker.mjs), so a background save
 * progresses while the main thread is busy in a synchronous training step. Reads stay on the
 * main thread. The worker is terminated when the scope closes.
 */
import { Effect, FileSystem, Scope } from "effect"
import { Worker } from "node:worker_threads"
import { type CheckpointDisk, fileSystemDisk } from "./disk.ts"
import { CheckpointIoError } from "./errors.ts"

type Operation = "writeFilesDurable" | "rename" | "removeDirectory"

interface Reply {
  readonly id: number
  readonly result?: unknown
  readonly error?: string
}

export const makeWriterThreadDisk = (
  fs: FileSystem.FileSystem
): Effect.Effect<CheckpointDisk, never, Scope.Scope> =>
  Effect.gen(function*() {
    const pending = new Map<number, (reply: Reply) => void>()
    let nextId = 0
    const worker = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const w = new Worker(new URL("./writerWorker.mjs", import.meta.url))
        w.unref() // an idle writer must not keep the process alive
        w.on("message", (reply: Reply) => {
          pending.get(reply.id)?.(reply)
          pending.delete(reply.id)
        })
        w.on("error", (error) => {
          for (const [id, resolve] of pending) resolve({ id, error: error.message })
          pending.clear()
        })
        return w
      }),
      (w) => Effect.promise(() => w.terminate())
    )

    const call = <A>(operation: Operation, path: string, args: ReadonlyArray<unknown>) =>
      Effect.callback<A, CheckpointIoError>((resume) => {
        const id = nextId++
        pending.set(id, (reply) =>
          resume(
            reply.error === undefined
              ? Effect.succeed(reply.result as A)
              : Effect.fail(new CheckpointIoError({ operation, path, detail: reply.error }))
          ))
        worker.ref() // keep the process alive while an operation is in flight
        worker.postMessage({ id, operation, args })
      }).pipe(Effect.ensuring(Effect.sync(() => {
        if (pending.size === 0) worker.unref()
      })))

    return {
      ...fileSystemDisk(fs),
      writeFilesDurable: (dir, files) => call<ReadonlyArray<string>>("writeFilesDurable", dir, [dir, files]),
      rename: (from, to) => call<void>("rename", `${from} → ${to}`, [from, to]),
      removeDirectory: (dir) => call<void>("removeDirectory", dir, [dir])
    } satisfies CheckpointDisk
  })
