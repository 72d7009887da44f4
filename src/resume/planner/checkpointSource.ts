/**
 * Checks that apply only when resuming from a checkpoint: which damaged files matter, whether its
 * training state decodes, and how the new configuration differs from the stored one.
 */
import { Result, Schema } from "effect"
import { CheckpointState } from "../../checkpoint/checkpointState.ts"
import type { Manifest } from "../../checkpoint/manifest.ts"
import { type ConfigChange, decodeStoredConfig } from "../changes.ts"
import { trajectoryFingerprint } from "../fingerprints.ts"
import { showValue } from "../plan.ts"
import { type Actions, isExact } from "./actions.ts"
import type { Findings } from "./findings.ts"
import type { CheckpointSource } from "./input.ts"

const decodeState = Schema.decodeUnknownResult(CheckpointState)

/** The checkpoint's state, or why it cannot be used. */
export const checkpointState = (manifest: Manifest): Result.Result<CheckpointState, string> => {
  const decoded = decodeState(manifest.state, { errors: "all" })
  if (Result.isFailure(decoded)) return Result.fail(decoded.failure.message)
  if (decoded.success.step !== manifest.step) {
    return Result.fail(`state.step ${decoded.success.step} differs from the manifest's step ${manifest.step}`)
  }
  return Result.succeed(decoded.success)
}

export const checkProblems = (source: CheckpointSource, actions: Actions, findings: Findings): void => {
  const { model, optimizer } = source.manifest.components
  for (const problem of source.problems) {
    const component = problem.file === model.file
      ? "model"
      : problem.file === optimizer.file
      ? "optimizer"
      : "checkpoint"
    // Every plan reads the manifest; a tensor file only matters to the component that loads it.
    const needed = component === "model"
      ? actions.model !== "init"
      : component === "optimizer"
      ? actions.optimizer !== "reset"
      : true
    if (needed) findings.reasons.push({ _tag: "ComponentCorrupt", component, ...problem })
    else {
      findings.warnings.push(
        `${component} file ${problem.file} is unusable (${problem.reason}: ${problem.detail}); ` +
          `not needed: ${component} ${component === "model" ? "init" : "reset"}`
      )
    }
  }
}

/** The policies' own expectations of configuration changes (docs/design.md, the presets table of "Resume policies"). */
const CONTINUE_ALLOWED = (path: string): boolean =>
  path === "steps" || path.startsWith("schedule.") || path === "batch.global" || path === "batch.micro" ||
  (path.startsWith("optimizer.") && path !== "optimizer.kind")

const showChange = (c: ConfigChange): string => `${c.path} ${showValue(c.old)} → ${showValue(c.new)}`

export const checkChanges = (
  source: CheckpointSource,
  actions: Actions,
  name: string,
  changes: ReadonlyArray<ConfigChange>,
  findings: Findings
): void => {
  const oldConfig = decodeStoredConfig(source.manifest.config)
  if (isExact(actions)) {
    if (Result.isFailure(oldConfig)) {
      findings.reasons.push({ _tag: "CheckpointConfigInvalid", detail: oldConfig.failure })
    } else {
      const fields = changes.filter((c) => c.trajectory).map(({ path, old, new: now }) => ({ path, old, new: now }))
      if (fields.length > 0) findings.reasons.push({ _tag: "TrajectoryChanged", fields })
      const stored = source.manifest.fingerprints.trajectory
      const computed = trajectoryFingerprint(oldConfig.success)
      if (stored !== computed) findings.reasons.push({ _tag: "TrajectoryFingerprintMismatch", stored, computed })
    }
  } else if (Result.isFailure(oldConfig)) {
    findings.warnings.push(
      `the checkpoint's configuration does not decode (${oldConfig.failure}); changes are listed against its raw values`
    )
  }
  const free = changes.filter((c) => !c.trajectory)
  if (free.length > 0) {
    findings.warnings.push(`changes that do not affect the trajectory: ${free.map(showChange).join(", ")}`)
  }
  if (name === "continue") {
    const unexpected = changes.filter((c) => c.trajectory && !CONTINUE_ALLOWED(c.path))
    if (unexpected.length > 0) {
      findings.warnings.push(
        `continue expects changes to steps, schedule, batch size and optimizer hyperparameters only; ` +
          `also changed: ${unexpected.map(showChange).join(", ")}`
      )
    }
  }
}
