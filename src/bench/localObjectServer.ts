/**
 * A local S3-compatible server for `bench save`: s3rver (a development dependency) in a child
 * process of its own, so that serving uploads takes no time from the step loop being measured,
 * as a real server would not. While it runs, the AWS SDK's standard environment variables point
 * at it, so the checkpoint store reaches it exactly as a run configured with AWS_ENDPOINT_URL does.
 */
import { Effect, type Scope } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as os from "node:os"
import * as path from "node:path"
import { pathToFileURL } from "node:url"

/** The bucket the server holds. */
export const BENCH_BUCKET = "bench"

/** Serves `BENCH_BUCKET` from `directory` on a free loopback port; prints the port, exits when stdin closes. */
const serverScript = `
const [entry, directory, bucket] = process.argv.slice(1)
const { default: S3rver } = await import(entry)
const server = new S3rver({ address: "127.0.0.1", port: 0, silent: true, directory, configureBuckets: [{ name: bucket }] })
const { port } = await server.run()
process.stdout.write(port + "\\n")
process.stdin.resume()
process.stdin.on("end", () => process.exit(0))
`

/** s3rver's built-in account, and the region the SDK insists on. */
const ENVIRONMENT = {
  AWS_ACCESS_KEY_ID: "S3RVER",
  AWS_SECRET_ACCESS_KEY: "S3RVER",
  AWS_REGION: "us-east-1",
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true"
}

const firstLine = (child: ChildProcess): Promise<string> =>
  new Promise((resolve, reject) => {
    let out = ""
    let err = ""
    child.stdout!.on("data", (chunk: Buffer) => {
      out += chunk.toString()
      if (out.includes("\n")) resolve(out.trim())
    })
    child.stderr!.on("data", (chunk: Buffer) => (err += chunk.toString()))
    child.on("exit", (code) => reject(new Error(`s3rver exited with code ${code}: ${err.trim()}`)))
  })

/** Sets the variables for the scope's lifetime, then puts back what was there. */
const withEnvironment = (variables: Record<string, string>) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const saved = Object.fromEntries(Object.keys(variables).map((key) => [key, process.env[key]]))
      Object.assign(process.env, variables)
      return saved
    }),
    (saved) =>
      Effect.sync(() => {
        for (const [key, value] of Object.entries(saved)) {
          if (value === undefined) delete process.env[key]
          else process.env[key] = value
        }
      })
  )

/**
 * Starts the server for the scope's lifetime and points the SDK at it. Fails with the reason
 * (s3rver not installed, or it did not start) as a sentence, for the bench to print and skip.
 */
export const startLocalObjectServer: Effect.Effect<void, string, Scope.Scope> = Effect.gen(function*() {
  const entry = yield* Effect.try({
    try: () => createRequire(import.meta.url).resolve("s3rver"),
    catch: () => "s3rver is not installed: it is a development dependency; install with dev dependencies"
  })
  const directory = yield* Effect.acquireRelease(
    Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "continuum-bench-s3-"))),
    (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
  )
  const child = yield* Effect.acquireRelease(
    Effect.sync(() =>
      spawn(process.execPath, [
        "--input-type=module",
        "-e",
        serverScript,
        pathToFileURL(entry).href,
        directory,
        BENCH_BUCKET
      ], { stdio: ["pipe", "pipe", "pipe"] })
    ),
    (child) => Effect.sync(() => child.kill())
  )
  const port = yield* Effect.tryPromise({
    try: () => firstLine(child),
    catch: (e) => `the local S3 server did not start: ${e instanceof Error ? e.message : String(e)}`
  })
  const endpoint = `http://127.0.0.1:${port}`
  yield* withEnvironment({ ...ENVIRONMENT, AWS_ENDPOINT_URL: endpoint, AWS_ENDPOINT_URL_S3: endpoint })
})
