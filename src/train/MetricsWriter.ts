import * as fs from "node:fs"
import * as path from "node:path"
import { Effect, Schema } from "effect"
import type { EvalEvent, StepEvent } from "./events.ts"

export class MetricsError extends Schema.TaggedError<MetricsError>()("MetricsError", {
  file: Schema.String,
  message: Schema.String
}) {}

export const metricsFile = (runDir: string): string => path.join(runDir, "metrics.jsonl")

const toLine = (event: StepEvent | EvalEvent): string =>
  JSON.stringify(
    event._tag === "Step"
      ? { step: event.step, loss: event.loss, lr: event.lr, gradNorm: event.gradNorm, tokens: event.tokens, tokensPerSec: event.tokensPerSec }
      : { step: event.step, valLoss: event.valLoss }
  ) + "\n"

/**
 * Appends one JSON line per step or evaluation to `<runDir>/metrics.jsonl`.
 *
 * A resumed run first drops the lines past its resume step, so the file always describes one
 * trajectory: the steps a crashed process ran after its last checkpoint are replayed, not doubled.
 */
export const openMetrics = (runDir: string, resumeStep: number) =>
  Effect.try({
    try: () => {
      const file = metricsFile(runDir)
      fs.mkdirSync(runDir, { recursive: true })
      const kept = resumeStep > 0 && fs.existsSync(file)
        ? fs.readFileSync(file, "utf8").split("\n").filter((line) => {
          if (line.trim() === "") return false
          try {
            const record = JSON.parse(line) as { step?: unknown }
            return typeof record.step === "number" && record.step <= resumeStep
          } catch {
            return false // a line torn by a crash
          }
        })
        : []
      fs.writeFileSync(file, kept.map((line) => line + "\n").join(""))
      return {
        file,
        append: (event: StepEvent | EvalEvent) => fs.appendFileSync(file, toLine(event)),
        /** Any other record, e.g. the marker a resumed run writes at its resume step. */
        appendRecord: (record: { readonly step: number } & Record<string, unknown>) =>
          fs.appendFileSync(file, JSON.stringify(record) + "\n")
      }
    },
    catch: (e) => new MetricsError({ file: metricsFile(runDir), message: String(e) })
  })

/** Reads a metrics file back into records (for reports and tests). */
export const readMetrics = (file: string): Array<Record<string, number>> =>
  fs.readFileSync(file, "utf8").split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l) as Record<string, number>)
