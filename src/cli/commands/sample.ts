import { Command, Flag } from "effect/cli"
import { whenRun } from "../lazy.ts"
import { checkpointOrRunDir } from "../runFlags.ts"

export const sampleDefaults = { tokens: 200, temperature: 0.8, seed: 0, topK: 0, wait: 0 } as const

export const sampleCommand = Command.make(
  "sample",
  {
    dir: checkpointOrRunDir,
    prompt: Flag.String("prompt").pipe(Flag.withDescription("Text to continue (encoded as UTF-8 bytes)")),
    tokens: Flag.Int("tokens").pipe(
      Flag.withDescription("Number of bytes to generate"),
      Flag.withDefault(sampleDefaults.tokens)
    ),
    temperature: Flag.Finite("temperature").pipe(
      Flag.withDescription("0: greedy (deterministic); > 0: sample from softmax(logits / T)"),
      Flag.withDefault(sampleDefaults.temperature)
    ),
    seed: Flag.Int("seed").pipe(
      Flag.withDescription("Seed of the sampling draws; the same seed gives the same text"),
      Flag.withDefault(sampleDefaults.seed)
    ),
    topK: Flag.Int("top-k").pipe(
      Flag.withDescription("Sample among the K most likely bytes only (0: all)"),
      Flag.withDefault(sampleDefaults.topK)
    ),
    wait: Flag.Finite("wait").pipe(
      Flag.withDescription("Seconds to wait for a run's first valid checkpoint (polled every second)"),
      Flag.withDefault(sampleDefaults.wait)
    )
  },
  (args) => whenRun(() => import("../handlers/sample.ts"), (handler) => handler.sample(args))
).pipe(Command.withDescription("Generate text from a checkpoint's model"))
