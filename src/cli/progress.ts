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
export const makeProgress = (totalSteps: number, stream: NodeJS.WriteStream = process.stderr, logEvery = 50) => {
  const tty = stream.isTTY === true
  const started = Date.now()
  let firstStep: number | undefined
  let lastValLoss: number | undefined
  const write = (line: string) => {
    if (tty) stream.write(`\r\x1b[2K${line}`)
    else stream.write(line + "\n")
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
            `  ${Math.round(event.tokensPerSec)} tok/s  ETA ${formatDuration(eta)}` +
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
