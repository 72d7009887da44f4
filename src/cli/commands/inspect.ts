/**
 * `continuum inspect DIR [--verify] [--json]`: what a checkpoint holds (files, tensors,
 * configuration, state, lineage), or what checkpoints a run directory holds. Reading only: no
 * file is written or cleaned, so it is safe while the run is training.
 */
import { Argument, Command, Flag } from "effect/cli"
import { whenRun } from "../lazy.ts"

export const inspectCommand = Command.make(
  "inspect",
  {
    dir: Argument.String("dir").pipe(
      Argument.withDescription(
        "Checkpoint (…/checkpoints/step-NNNNNNNN, s3://bucket/prefix/step-NNNNNNNN) or run directory (s3://bucket/prefix)"
      )
    ),
    verify: Flag.Boolean("verify").pipe(
      Flag.withDescription("Check the size and sha256 of every file; exit 1 when a check fails"),
      Flag.withDefault(false)
    ),
    json: Flag.Boolean("json").pipe(Flag.withDescription("Print one JSON object"), Flag.withDefault(false))
  },
  (args) => whenRun(() => import("../handlers/inspect.ts"), (handler) => handler.inspect(args))
).pipe(
  Command.withDescription("Show a checkpoint (files, tensors, configuration, state, lineage) or a run's checkpoints")
)
