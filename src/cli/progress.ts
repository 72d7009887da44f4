import type { Progress } from "../tensor/progress.ts"
import type { TrainEvent } from "../train/events.ts"

const formatDuration = (seconds: number): string => {
  if (!Number.isFinite(seconds) || seconds < 0) return "--"
  const m = Math.floor(seconds / 60)
  const s = Math.round(seconds % 60)
  return m > 0 ? `${m}m${String(s).padStart(2, "0")}s` : `${s}s`
}

/**
 * Human-facing progress: a single rewritten status line on a terminal, plain log lines otherwise
 * (every `logEvery` steps, every evaluation and checkpoint), so CI logs stay readable.
 */
export const makeProgress = (
  totalSteps: number,
  stream: ProgressStream = process.stderr,
  logEvery = 50,
  /** Put before every line, e.g. where a run is within a larger job. */
  prefix: () => string = () => ""
) => {
  const tty = stream.isTTY === true
  const started = Date.now()
  let firstStep: number | undefined
  let lastValLoss: number | undefined
  const write = (line: string) => {
    if (tty) stream.write(`\r\x1b[2K${prefix()}${line}`)
    else stream.write(prefix() + line + "\n")
  }
  return {
    onEvent(event: TrainEvent): void {
      switch (event._tag) {
        case "Step": {
          firstStep ??= event.step - 1
          const done = event.step - firstStep
          const elapsed = (Date.now() - started) / 1000
          const eta = (elapsed / Math.max(done, 1)) * (totalSteps - event.step)
          const line =
            `step ${event.step}/${totalSteps}  loss ${event.loss.toFixed(4)}  lr ${event.lr.toExponential(2)}` +
            `  ${Math.round(event.tokensPerSec)} tok/s on ${event.ranks} ${event.ranks === 1 ? "rank" : "ranks"}` +
            `  ETA ${formatDuration(eta)}` +
            (lastValLoss !== undefined ? `  val ${lastValLoss.toFixed(4)}` : "")
          if (tty || event.step % logEvery === 0 || event.step === totalSteps) write(line)
          break
        }
        case "Eval":
          lastValLoss = event.valLoss
          if (!tty) write(`eval step ${event.step}  valLoss ${event.valLoss.toFixed(4)}`)
          break
        case "Checkpoint":
          if (!tty) write(`checkpoint step ${event.step} → ${event.path}`)
          break
      }
    },
    finish(): void {
      if (tty) stream.write("\n")
    }
  }
}

/** The part of a stream progress needs: where to write, and whether it is a terminal. */
export interface ProgressStream {
  readonly isTTY?: boolean | undefined
  write(text: string): unknown
}

const formatAmount = (n: number, unit: Progress["unit"]): string =>
  unit === "bytes" ? `${(n / 1e6).toFixed(n < 1e7 ? 2 : 1)} MB` : String(n)

/** Percent done, whole; a task of nothing is done. */
const percentOf = (p: Progress): number => (p.total <= 0 ? 100 : Math.floor((100 * p.done) / p.total))

/** Plain lines report a task at its start, at every quarter and at its end. */
const QUARTER = 25

/**
 * Progress of operations below `cli/` (`Progress` events from their `onProgress` callbacks). On a
 * terminal, one status line redrawn as the work advances and cleared at the end; elsewhere plain
 * lines — when a task starts, at each quarter and when it is done — so logs stay short. `log`
 * prints a line that stays, above the status line.
 */
export const makeTaskProgress = (stream: ProgressStream = process.stderr, prefix = "") => {
  const tty = stream.isTTY === true
  let shown: { task: string; percent: number; detail: string | undefined } | undefined
  let status = ""
  const line = (p: Progress) =>
    `${prefix}${p.task}: ${formatAmount(p.done, p.unit)} of ${formatAmount(p.total, p.unit)} ` +
    `${p.unit === "bytes" ? "" : `${p.unit} `}(${percentOf(p)}%)${p.detail === undefined ? "" : ` · ${p.detail}`}`
  return {
    report(p: Progress): void {
      const percent = percentOf(p)
      const sameTask = shown?.task === p.task
      if (tty) {
        if (sameTask && shown!.percent === percent && shown!.detail === p.detail) return
        status = line(p)
        stream.write(`\r\x1b[2K${status}`)
      } else {
        const quarter = Math.floor(percent / QUARTER)
        if (sameTask && Math.floor(shown!.percent / QUARTER) === quarter) return
        stream.write(`${line(p)}\n`)
      }
      shown = { task: p.task, percent, detail: p.detail }
    },
    /** A line that stays (a stage, a result row). */
    log(text: string): void {
      if (tty && status !== "") stream.write(`\r\x1b[2K${text}\n${status}`)
      else stream.write(`${text}\n`)
    },
    /** Clears the status line (terminal); the next report starts afresh. */
    finish(): void {
      if (tty && status !== "") stream.write("\r\x1b[2K")
      status = ""
      shown = undefined
    }
  }
}
export type TaskProgress = ReturnType<typeof makeTaskProgress>
