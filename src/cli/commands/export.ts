import { Command, Flag } from "effect/cli"
import { whenRun } from "../lazy.ts"
import { checkpointOrRunDir } from "../runFlags.ts"

export const exportCommand = Command.make(
  "export",
  {
    dir: checkpointOrRunDir,
    out: Flag.String("out").pipe(Flag.withDescription("The safetensors file to write")),
    dtype: Flag.Literals("dtype", ["f32", "f16", "bf16"]).pipe(
      Flag.withDescription("Stored precision (f16/bf16 round to nearest even)"),
      Flag.withDefault("f32")
    )
  },
  (args) => whenRun(() => import("../handlers/export.ts"), (handler) => handler.exportWeightsFile(args))
).pipe(Command.withDescription("Write a checkpoint's model weights as a standard safetensors file"))
