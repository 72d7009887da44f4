import { type ChildProcess, spawn } from "node:child_process"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..")

/**
 * Starts `node <args>` in the repository root, with stdout and stderr piped to the caller, and
 * `env` added to this process's environment.
 */
export const spawnNode = (args: ReadonlyArray<string>, env: Record<string, string> = {}): ChildProcess =>
  spawn(process.execPath, args, { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } })

/** Node arguments that run test/support/crashChild.ts: `tinyConfig(runDir, overrides)`, started per `resume`. */
export const trainingChildArgs = (
  runDir: string,
  overrides: Record<string, unknown>,
  resume?: string
): Array<string> => [
  "--import",
  "tsx",
  path.join(repoRoot, "test/support/crashChild.ts"),
  runDir,
  JSON.stringify(overrides),
  ...(resume === undefined ? [] : [resume])
]

/** How a process ended. */
export interface Exit {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
}

/** Resolves when the process exits. */
export const exited = (process: ChildProcess): Promise<Exit> =>
  new Promise((resolve) => process.on("exit", (code, signal) => resolve({ code, signal })))

/** A process that ran to its end, with what it printed. */
export interface Finished extends Exit {
  readonly stdout: string
  readonly stderr: string
}

/** Collects a started process's output until it exits. */
export const finished = (child: ChildProcess): Promise<Finished> => {
  let stdout = ""
  let stderr = ""
  child.stdout!.on("data", (chunk: Buffer) => (stdout += chunk.toString()))
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
  // A signal sent just as the process exits by itself cannot be delivered; the exit tells the rest.
  child.on("error", () => {})
  return exited(child).then((exit) => ({ ...exit, stdout, stderr }))
}

/** Starts `bin/continuum <args>`. */
export const spawnCli = (args: ReadonlyArray<string>, env: Record<string, string> = {}): ChildProcess =>
  spawnNode(["bin/continuum", ...args], env)

/** Runs `bin/continuum <args>` to its end. */
export const runCli = (args: ReadonlyArray<string>, env: Record<string, string> = {}): Promise<Finished> =>
  finished(spawnCli(args, env))
