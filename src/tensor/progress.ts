/**
 * Progress of a long operation (verifying a large checkpoint, a benchmark, the demo's runs),
 * reported through a callback. Below `cli/` nothing writes to the terminal: an operation calls
 * `onProgress` with how far it is, and the CLI decides how to show it (a redrawn line on a
 * terminal, plain lines elsewhere). The type sits in the lowest layer so that every part can
 * report without importing the CLI.
 */

export interface Progress {
  /** What is being done now, e.g. "verify model.safetensors"; a new task starts a new line. */
  readonly task: string
  /** Units done so far, out of `total` (0 ≤ done ≤ total). */
  readonly done: number
  readonly total: number
  /** How the units read: bytes are shown as MB; items and steps as counts. */
  readonly unit: "bytes" | "items" | "steps"
  /** What within the task is running now (a size, a backend); shown, but not a new task. */
  readonly detail?: string | undefined
}

export type OnProgress = (progress: Progress) => void
