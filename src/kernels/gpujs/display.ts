/**
 * A private X display for headless GL, acquired for a scope.
 *
 * The `gl` package creates its contexts through ANGLE on GLX, so on Linux it needs an X server
 * even though nothing is drawn on screen. When no display is given, a private virtual display
 * (Xvfb) is started for the scope that needs it. That makes `npm test`, the benchmark and the
 * CLI work the same with or without `xvfb-run -a`.
 *
 * ANGLE opens its X connection once per process, when the first GL context is created, and keeps
 * it for the life of the process; Xlib exits the process when that connection breaks. So:
 * - the server must outlive every GL context, and the scope that started it cannot know whether
 *   ANGLE has connected to it: closing the scope never stops it. It is started with `-terminate`,
 *   so it exits by itself when the process's last X connection closes (at exit, or a crash), and
 *   it is also killed from an exit hook;
 * - ANGLE learns the display only from the DISPLAY environment variable (see
 *   exportDisplayForAngle), which it reads when it connects and never again. Setting it for the
 *   scope and restoring it afterwards is therefore safe: the connection stays, and a later scope
 *   finds GL working before it starts anything (see modes.ts), so one server serves the process.
 */
import { Effect, type Scope } from "effect"
import { type ChildProcess, spawn } from "node:child_process"

/** The display a private server was started on, or why none could be started. */
export type XvfbDisplay = { readonly display: string } | { readonly reason: string }

const START_TIMEOUT_MS = 10_000

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
      finish(new Error(`Xvfb exited early (code ${code}, signal ${signal}): ${err.trim().slice(-300)}`)))
    child.stderr?.on("data", (d: Buffer) => {
      err = (err + d.toString()).slice(-2000)
    })
    child.stdio[3]?.on("data", (d: Buffer) => {
      out += d.toString()
      const line = out.match(/^(\d+)\n/)
      if (line) {
        finish(undefined, `:${line[1]}`)
      }
    })
  })

/** Starts a server that lives as long as the process (see the module comment), or says why it could not. */
const startProcessXvfb = async (): Promise<XvfbDisplay> => {
  try {
    const { child, display } = await startXvfb()
    process.once("exit", () => child.kill())
    // The server must not keep the event loop alive: the process exits when its work is done.
    child.unref()
    for (const stream of [child.stderr, child.stdio[3]]) (stream as { unref?: () => void } | null)?.unref?.()
    return { display }
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e)
    const reason = /ENOENT/.test(message)
      ? "no X display: DISPLAY is unset and Xvfb is not installed (run scripts/gl-deps.sh, or run under `xvfb-run -a`)"
      : `no X display: DISPLAY is unset and starting Xvfb failed: ${message}`
    return { reason }
  }
}

/**
 * Sets DISPLAY to `display` for the scope and restores its previous value when the scope closes.
 *
 * The one place below the CLI that writes the environment, because nothing else reaches ANGLE:
 * the `gl` package takes no display argument, and ANGLE opens its connection with
 * `XOpenDisplay(NULL)`, which reads only the DISPLAY variable of the process environment.
 */
const exportDisplayForAngle = (display: string): Effect.Effect<void, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const previous = process.env.DISPLAY
      process.env.DISPLAY = display
      return previous
    }),
    (previous) =>
      Effect.sync(() => {
        if (previous === undefined) delete process.env.DISPLAY
        else process.env.DISPLAY = previous
      })
  ).pipe(Effect.asVoid)

/**
 * Starts a private Xvfb and points ANGLE at it for the enclosing scope. Never fails: when no
 * server can be started the result says why (and a later scope tries again).
 */
export const acquireXvfbDisplay: Effect.Effect<XvfbDisplay, never, Scope.Scope> = Effect.gen(function*() {
  const started = yield* Effect.promise(startProcessXvfb)
  if ("display" in started) yield* exportDisplayForAngle(started.display)
  return started
})
