import { Schema } from "effect"

/**
 * A rank could not do its part: an exception in its thread, or the thread ended. The run stops at
 * that update with nothing of it recorded or saved; the checkpoints already committed are intact,
 * and `--resume exact` continues from the newest one.
 */
export class RankFailed extends Schema.TaggedError<RankFailed>()("RankFailed", {
  rank: Schema.Int,
  ranks: Schema.Int,
  /** The update the rank was computing (1 for a fresh run's first), 0 while it was starting. */
  step: Schema.Int,
  reason: Schema.String
}) {
  override get message(): string {
    const when = this.step === 0 ? "while starting" : `at update ${this.step}`
    return `rank ${this.rank} of ${this.ranks} failed ${when}: ${this.reason}`
  }
}
