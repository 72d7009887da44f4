import { Schema } from "effect"
import { rebuildAllowingJump } from "../resume/policy.ts"

const show = (
  value: number
): string => (Number.isFinite(value) ? Number(value.toPrecision(6)).toString() : String(value))

/**
 * Update `step` met a NaN or ±∞: in its loss or gradient norm (found before the update was applied)
 * or in a parameter or optimizer state tensor right after it. The run stops there: nothing of the
 * update is recorded or saved, so the newest checkpoint is the last one with finite values.
 */
export class NonFiniteTraining extends Schema.TaggedError<NonFiniteTraining>()("NonFiniteTraining", {
  /** The update that failed (1 for the first update of a fresh run). */
  step: Schema.Int,
  /** `loss`, `gradient norm`, `parameter <name>` or `optimizer state <name>`. */
  quantity: Schema.String,
  value: Schema.Number,
  /** Whether the update had been applied to the weights in memory (never to a checkpoint). */
  applied: Schema.Boolean,
  /** The newest checkpoint of the run at that moment, if it has one. */
  newestCheckpoint: Schema.optionalKey(Schema.Int)
}) {
  override get message(): string {
    const what = this.applied
      ? `update ${this.step} left a non-finite value (${show(this.value)}) in ${this.quantity}`
      : `update ${this.step} has a non-finite ${this.quantity} (${show(this.value)}) and was not applied`
    const advice = this.newestCheckpoint === undefined
      ? "no checkpoint precedes it: train again from the start with a lower LR (--set optimizer.lr=…)"
      : `resume from step ${this.newestCheckpoint}, the newest checkpoint (the last finite one), with a lower LR: ` +
        `--resume POLICY.json --set optimizer.lr=…, POLICY.json holding ${JSON.stringify(rebuildAllowingJump)} ` +
        `(--resume continue would keep the old LR level)`
    return `${what}; nothing was saved for it; ${advice}`
  }
}
