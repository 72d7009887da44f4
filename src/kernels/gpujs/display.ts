/**
 * An X display for headless GL.
 *
 * The `gl` package creates its context through ANGLE on GLX, so on Linux it needs an X server
 * even though nothing is drawn on screen. When `DISPLAY` is unset and `Xvfb` is on the PATH, a
 * private virtual display is started and `DISPLAY` points at it for as long as some scope holds
 * it. The server is shared and reference-counted: several backends in one process (tests, the
 * benchmark) use one display, and the last release stops it. That makes `npm test`, the
 * benchmark and the CLI work the same with or without `xvfb-run -a`.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { Effect } from "effect"

export interface DisplayLease {
  /** The display in use (e.g. ":0"), or undefined when none could be had. */
  readonly display: string | undefined
  /** Why no display is available; undefined when one is. */
  readonly reason: string | undefined
  /** True when this process started the server (rather than using an existing DISPLAY). */
  readonly started: boolean
}

interface Server {
  readonly child: ChildProcess
  readonly display: string
  holders: number
}

let server: Server | undefined
let starting: Promise<Server> | undefined

const START_TIMEOUT_MS = 10_000

const killOnExit = () => {
  server?.child.kill()
}

/** Starts Xvfb and resolves with its display once the server reports it is ready. */
const startXvfb = (): Promise<Server> =>
  new Promise((resolve, reject) => {
    // -displayfd makes the server pick a free display number and write it to fd 3 when ready,
    // so concurrent processes never race for the same display.
    const child = spawn("Xvfb", ["-displayfd", "3", "-screen", "0", "64x64x24", "-nolisten", "tcp"], {
      stdio: ["ignore", "ignore", "pipe", "pipe"]
    })
    let out = ""
    let err = ""
    let settled = false
    const finish = (error: Error | undefined, value?: Server) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      if (error) {
        child.kill()
        reject(error)
      } else resolve(value!)
    }
    const timer = setTimeout(
      () => finish(new Error(`Xvfb did not report a display within ${START_TIMEOUT_MS} ms: ${err.trim().slice(-300)}`)),
      START_TIMEOUT_MS
    )
    child.on("error", (e) => finish(e))
    child.on("exit", (code, signal) =>
      finish(new Error(`Xvfb exited early (code ${code}, signal ${signal}): ${err.trim().slice(-300)}`))
    )
    child.stderr?.on("data", (d: Buffer) => {
      err = (err + d.toString()).slice(-2000)
    })
    const fd3 = child.stdio[3] as NodeJS.ReadableStream | null
    fd3?.on("data", (d: Buffer) => {
      out += d.toString()
      const line = out.match(/^(\d+)\n/)
      if (line) finish(undefined, { child, display: `:${line[1]}`, holders: 0 })
    })
  })

const acquire = async (): Promise<DisplayLease> => {
  if (process.platform !== "linux") return { display: process.env.DISPLAY, reason: undefined, started: false }
  if (server) {
    server.holders++
    return { display: server.display, reason: undefined, started: true }
  }
  if (process.env.DISPLAY) return { display: process.env.DISPLAY, reason: undefined, started: false }
  try {
    starting ??= startXvfb()
    const s = await starting
    if (!server) {
      server = s
      process.env.DISPLAY = s.display
      process.once("exit", killOnExit)
      // The server must not keep the event loop alive: a script that forgot to close its scope
      // still exits, and the exit hook above stops the server.
      s.child.unref()
      s.child.stderr?.removeAllListeners("data")
      ;(s.child.stderr as unknown as { unref?: () => void } | null)?.unref?.()
      ;(s.child.stdio[3] as unknown as { unref?: () => void } | null)?.unref?.()
    }
    server.holders++
    return { display: server.display, reason: undefined, started: true }
  } catch (e) {
    starting = undefined
    const message = e instanceof Error ? e.message : String(e)
    const reason = /ENOENT/.test(message)
      ? "no X display: DISPLAY is unset and Xvfb is not installed (run scripts/gl-deps.sh, or run under `xvfb-run -a`)"
      : `no X display: DISPLAY is unset and starting Xvfb failed: ${message}`
    return { display: undefined, reason, started: false }
  }
}

const release = (lease: DisplayLease) => {
  if (!lease.started || !server) return
  server.holders--
  if (server.holders > 0) return
  const s = server
  server = undefined
  starting = undefined
  process.removeListener("exit", killOnExit)
  if (process.env.DISPLAY === s.display) delete process.env.DISPLAY
  s.child.kill()
}

/**
 * Holds an X display for the enclosing scope: the existing `DISPLAY`, or a private Xvfb started
 * on demand. Never fails; when no display can be had the lease says why.
 */
export const acquireDisplay: Effect.Effect<DisplayLease, never, import("effect").Scope.Scope> = Effect.acquireRelease(
  Effect.promise(acquire),
  (lease) => Effect.sync(() => release(lease))
)
