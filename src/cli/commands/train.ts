import { Command, Flag } from "effect/cli"
import * as Option from "effect/Option"
import { whenRun } from "../lazy.ts"
import { runArgs, runFlags } from "../runFlags.ts"

export const trainCommand = Command.make(
  "train",
  {
    ...runFlags,
    until: Flag.Int("until").pipe(
      Flag.withDescription(
        "Stop after this step and save a checkpoint, as if interrupted there (the trajectory is unchanged)"
      ),
      Flag.optional
    )
  },
  (flags) =>
    whenRun(
      () => import("../handlers/train.ts"),
      (handler) => handler.train({ ...runArgs(flags), until: Option.getOrUndefined(flags.until) })
    )
).pipe(Command.withDescription("Train a run (resuming from a checkpoint with --resume)"))
