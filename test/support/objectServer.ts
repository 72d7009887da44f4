/**
 * A real S3-compatible server for tests: s3rver on 127.0.0.1, on a free port, storing into a
 * temporary directory. `start` points the AWS SDK's standard environment variables at it, so the
 * store in this process and every child process (`bin/continuum`) talk to it.
 */
import * as fs from "node:fs"
import type { IncomingMessage, Server } from "node:http"
import * as os from "node:os"
import * as path from "node:path"
import S3rver from "s3rver"

export interface ObjectServer {
  readonly endpoint: string
  /** The directory s3rver keeps its buckets in (objects are files under `<bucket>/`). */
  readonly directory: string
  /** Stops serving (requests are refused) while keeping what is stored. */
  readonly pause: () => Promise<void>
  /** Serves the same objects again, on the same port. */
  readonly resume: () => Promise<void>
  readonly stop: () => Promise<void>
  /**
   * Calls `watch` with every request (method and URL, before the server handles it). "pass" lets
   * the request through; "drop" cuts its connection unanswered, a transient network fault; "stop"
   * cuts it and stops the server, as if it went down in the middle of it (`resume` brings it
   * back), and ends the watch.
   */
  readonly watchRequests: (watch: (request: IncomingMessage) => RequestFate) => void
}

/** s3rver's built-in account. */
const CREDENTIALS = { AWS_ACCESS_KEY_ID: "S3RVER", AWS_SECRET_ACCESS_KEY: "S3RVER" }

export type RequestFate = "pass" | "drop" | "stop"

export const startObjectServer = async (buckets: ReadonlyArray<string>): Promise<ObjectServer> => {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), "continuum-s3-"))
  const serve = (port: number) =>
    new S3rver({
      address: "127.0.0.1",
      port,
      silent: true,
      directory,
      configureBuckets: buckets.map((name) => ({ name }))
    })
  let watch: ((request: IncomingMessage) => RequestFate) | undefined
  const httpServerOf = (s: S3rver) => (s as unknown as { readonly httpServer: Server }).httpServer
  /** Puts the current watch between the server and s3rver's own request handler. */
  const interpose = (s: S3rver) => {
    const http = httpServerOf(s)
    const handlers = http.listeners("request") as Array<(...args: Array<unknown>) => void>
    http.removeAllListeners("request")
    http.on("request", (request: IncomingMessage, response: unknown) => {
      const fate = watch?.(request) ?? "pass"
      if (fate !== "pass") {
        request.socket.destroy()
        if (fate === "stop") {
          watch = undefined
          void pause()
        }
        return
      }
      for (const handler of handlers) handler(request, response)
    })
  }
  const pause = async () => {
    if (!running) return
    running = false
    // Keep-alive connections would hold the server open and keep serving: they are cut too.
    httpServerOf(server).closeAllConnections()
    await server.close()
  }
  let server = serve(0)
  const { port } = await server.run()
  interpose(server)
  let running = true
  const endpoint = `http://127.0.0.1:${port}`
  const saved = { ...process.env }
  Object.assign(process.env, CREDENTIALS, {
    AWS_REGION: "us-east-1",
    AWS_ENDPOINT_URL: endpoint,
    // The SDK warns on every start under node < 22; the CLI output under test stays clean.
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true"
  })
  delete process.env["AWS_PROFILE"]
  return {
    endpoint,
    directory,
    pause,
    resume: async () => {
      server = serve(port)
      await server.run()
      interpose(server)
      running = true
    },
    watchRequests: (w) => {
      watch = w
    },
    stop: async () => {
      for (
        const key of [
          ...Object.keys(CREDENTIALS),
          "AWS_REGION",
          "AWS_ENDPOINT_URL",
          "AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED"
        ]
      ) {
        if (saved[key] === undefined) delete process.env[key]
        else process.env[key] = saved[key]
      }
      if (running) await server.close()
      fs.rmSync(directory, { recursive: true, force: true })
    }
  }
}
