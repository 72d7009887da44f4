import { Argument, Flag } from "effect/cli"
import * as Option from "effect/Option"

/** The flags `train` and `plan` share: configuration and where the run starts. */
export const runFlags = {
  config: Flag.String("config").pipe(Flag.withDescription("JSON run configuration file"), Flag.optional),
  set: Flag.String("set").pipe(
    Flag.withDescription("Override one configuration value: path=value (repeatable)"),
    Flag.atLeast(0)
  ),
  resume: Flag.String("resume").pipe(
    Flag.withDescription("auto | exact | continue | transfer | POLICY.json"),
    Flag.optional
  ),
  from: Flag.String("from").pipe(
    Flag.withDescription(
      "Checkpoint (…/step-NNNNNNNN or s3://bucket/prefix/step-NNNNNNNN) or .safetensors file " +
        "(default: latest valid checkpoint of the run)"
    ),
    Flag.optional
  ),
  maxMemory: Flag.String("max-memory").pipe(
    Flag.withDescription("Memory the run may use: bytes or e.g. 4GiB, 512MiB (default: this machine's memory)"),
    Flag.optional
  ),
  verbose: Flag.Boolean("verbose").pipe(
    Flag.withDescription("List every tensor when a resume plan is rejected, not only the causes"),
    Flag.withDefault(false)
  )
}

export const runArgs = (flags: {
  readonly config: Option.Option<string>
  readonly set: ReadonlyArray<string>
  readonly resume: Option.Option<string>
  readonly from: Option.Option<string>
  readonly maxMemory: Option.Option<string>
  readonly verbose: boolean
}) => ({
  config: Option.getOrUndefined(flags.config),
  set: flags.set,
  resume: Option.getOrUndefined(flags.resume),
  from: Option.getOrUndefined(flags.from),
  maxMemory: Option.getOrUndefined(flags.maxMemory),
  verbose: flags.verbose
})

/** The argument of `inspect`, `export` and `sample`: one checkpoint, or a run's latest valid one. */
export const checkpointOrRunDir = Argument.String("dir").pipe(
  Argument.withDescription(
    "Checkpoint (…/checkpoints/step-NNNNNNNN, s3://bucket/prefix/step-NNNNNNNN) or run directory or " +
      "s3://bucket/prefix (its latest valid checkpoint)"
  )
)
