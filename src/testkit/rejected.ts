/** `checkRejected`: a plan that must be rejected is, and leaves the run directory as it was. */
import { Cause, Effect, Exit, Layer, Option } from "effect"
import { createHash } from "node:crypto"
import * as nodeFs from "node:fs"
import * as NodePath from "node:path"
import { canonicalJson } from "../checkpoint/canonicalJson.ts"
import type { RunConfig } from "../config/RunConfig.ts"
import { PlanRejected } from "../resume/plan.ts"
import { plannedStartLayer } from "../resume/plannedStart.ts"
import type { ResumePolicy } from "../resume/policy.ts"
import { runLayer } from "../train/layers.ts"
import { RejectionWroteFiles, ResumeNotRejected, ResumeRunFailed } from "./errors.ts"
import type { RunBuilder } from "./runs.ts"

export interface RejectedOptions {
  /** The configuration of the run that tries to start; its `runDir` is the one checked. */
  readonly config: RunConfig
  readonly policy: ResumePolicy
  /** A checkpoint directory or weights file; default the latest valid checkpoint of the run. */
  readonly from?: string
  readonly build?: RunBuilder
}

/** Relative path → size, mtime and sha256 of every file below `dir`. */
const fileTree = (dir: string): Map<string, string> => {
  const out = new Map<string, string>()
  const walk = (current: string): void => {
    if (!nodeFs.existsSync(current)) return
    for (const entry of nodeFs.readdirSync(current, { withFileTypes: true })) {
      const full = NodePath.join(current, entry.name)
      if (entry.isDirectory()) {
        out.set(NodePath.relative(dir, full) + "/", "directory")
        walk(full)
      } else {
        const stat = nodeFs.statSync(full)
        const hash = createHash("sha256").update(nodeFs.readFileSync(full)).digest("hex")
        out.set(NodePath.relative(dir, full), `${stat.size} bytes, mtime ${stat.mtimeMs}, sha256 ${hash}`)
      }
    }
  }
  walk(dir)
  return out
}

/**
 * Builds the run with a planned start and expects the plan to be rejected: succeeds with the
 * `PlanRejected`, and fails if the start was accepted, failed otherwise, or changed any file of
 * the run directory (metrics.jsonl, checkpoints).
 */
export const checkRejected = (
  options: RejectedOptions
): Effect.Effect<PlanRejected, ResumeNotRejected | RejectionWroteFiles | ResumeRunFailed> =>
  Effect.gen(function*() {
    const build = options.build ?? runLayer
    const { config, policy } = options
    const before = fileTree(config.runDir)
    const exit = yield* Effect.scoped(Layer.build(build(config, plannedStartLayer(policy, options.from)))).pipe(
      Effect.exit
    )
    const after = fileTree(config.runDir)
    const changed = [...new Set([...before.keys(), ...after.keys()])].filter((file) =>
      before.get(file) !== after.get(file)
    )
    if (changed.length > 0) return yield* new RejectionWroteFiles({ runDir: config.runDir, files: changed.sort() })
    if (Exit.isSuccess(exit)) {
      return yield* new ResumeNotRejected({ runDir: config.runDir, policy: canonicalJson(policy) })
    }
    const error = Cause.findErrorOption(exit.cause)
    if (Option.isSome(error) && error.value instanceof PlanRejected) {
      return error.value
    }
    return yield* new ResumeRunFailed({
      run: "resumed",
      stopAt: null,
      error: Option.isSome(error) ? error.value : Cause.squash(exit.cause)
    })
  })
