/**
 * An X display for headless GL.
 *
 * The `gl` package creates its contexts through ANGLE on GLX, so on Linux it needs an X server
 * even though nothing is drawn on screen. When `DISPLAY` is unset and `Xvfb` is on the PATH, a
 * private virtual display is started on first need and `DISPLAY` points at it. That makes
 * `npm test`, the benchmark and the CLI work the same with or without `xvfb-run -a`.
 *
 * The display lives as long as the process, not as long as one backend: ANGLE keeps its X
 * connection open for the life of the process, and Xlib exits the process when that connection
 * breaks, so the server must never be stopped under it. It is started with `-terminate`, so it
 * exits by itself when the process's last X connection closes (at exit, or a crash), and it is
 * also killed from an exit hook.
 */
import { type ChildProcess, spawn } from "node:child_process"

export interface DisplayStatus {
  /** The display in use (e.g. ":0"), or undefined when none could be had. */
  readonly display: string | undefined
  /** Why no display is available; undefined when one is. */
  readonly reason: string | undefined
  /** True when this process started the server (rather than using an existing DISPLAY). */
  readonly started: boolean
}

const START_TIMEOUT_MS = 10_000

let pending: Promise<DisplayStatus> | undefined

/** Starts Xvfb and resolves with its display once the server reports it is ready. */
const startXvfb = (): Promise<{ child: ChildProcess; display: string }> =>
  new Promise((resolve, reject) => {
    // -displayfd makes the server pick a free display number and write it to fd 3 when ready,
    // so concurrent processes (parallel test files) never race for the same display.
    const child = spawn("Xvfb", ["-displayfd", "3", "-screen", "0", "64x64x24", "-nolisten", "tcp", "-terminate"], {
      stdio: ["ignore", "ignore", "pipe", "pipe"]
    })
    let out = ""
    let err = ""
    let settled = false
    const finish = (error: Error | undefined, display?: string) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      child.stderr?.removeAllListeners("data")
      child.stdio[3]?.removeAllListeners("data")
      if (error) {
        child.kill()
        reject(error)
      } else resolve({ child, display: display! })
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
    child.stdio[3]?.on("data", (d: Buffer) => {
      out += d.toString()
      const line = out.match(/^(\d+)\n/)
      if (line) finish(undefined, `:${line[1]}`)
    })
  })

const ensure = async (): Promise<DisplayStatus> => {
  if (process.platform !== "linux" || process.env.DISPLAY) {
    return { display: process.env.DISPLAY, reason: undefined, started: false }
  }
  try {
    const { child, display } = await startXvfb()
    process.env.DISPLAY = display
    process.once("exit", () => child.kill())
    // The server must not keep the event loop alive: the process exits when its work is done.
    child.unref()
    for (const stream of [child.stderr, child.stdio[3]]) (stream as { unref?: () => void } | null)?.unref?.()
    return { display, reason: undefined, started: true }
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e)
    const reason = /ENOENT/.test(message)
      ? "no X display: DISPLAY is unset and Xvfb is not installed (run scripts/gl-deps.sh, or run under `xvfb-run -a`)"
      : `no X display: DISPLAY is unset and starting Xvfb failed: ${message}`
    return { display: undefined, reason, started: false }
  }
}

/**
 * The X display for headless GL: the existing `DISPLAY`, or a private Xvfb started once per
 * process. Never fails; when no display can be had the status says why (and a later call tries
 * again).
 */
export const ensureDisplay = (): Promise<DisplayStatus> => {
  pending ??= ensure().then((status) => {
    if (status.reason !== undefined) pending = undefined
    return status
  })
  return pending
}
