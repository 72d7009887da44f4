import { NodeServices } from "@effect/platform-node"
import { Cause, Effect, Exit, Option } from "effect"
import { CliError, Command, Flag } from "effect/cli"
import { benchCommand } from "./commands/bench.ts"
import { demoCommand } from "./commands/demo.ts"
import { exportCommand } from "./commands/export.ts"
import { inspectCommand } from "./commands/inspect.ts"
import { plan } from "./commands/plan.ts"
import { reportCommand } from "./commands/report.ts"
import { sampleCommand } from "./commands/sample.ts"
import { train } from "./commands/train.ts"
import { describeError, ExitCode, rejectedTags } from "./exitCodes.ts"

const configFlag = Flag.String("config").pipe(Flag.withDescription("JSON run configuration file"), Flag.optional)
const setFlag = Flag.String("set").pipe(
  Flag.withDescription("Override one configuration value: path=value (repeatable)"),
  Flag.atLeast(0)
)
const resumeFlag = Flag.String("resume").pipe(
  Flag.withDescription("auto | exact | continue | transfer | POLICY.json"),
  Flag.optional
)
const fromFlag = Flag.String("from").pipe(
  Flag.withDescription("Checkpoint directory or .safetensors file (default: latest valid checkpoint of runDir)"),
  Flag.optional
)

const runFlags = { config: configFlag, set: setFlag, resume: resumeFlag, from: fromFlag }
const runArgs = (flags: {
  config: Option.Option<string>; set: ReadonlyArray<string>; resume: Option.Option<string>; from: Option.Option<string>
}) => ({
  config: Option.getOrUndefined(flags.config),
  set: flags.set,
  resume: Option.getOrUndefined(flags.resume),
  from: Option.getOrUndefined(flags.from)
})

const untilFlag = Flag.Int("until").pipe(
  Flag.withDescription("Stop after this step and save a checkpoint, as if interrupted there (the trajectory is unchanged)"),
  Flag.optional
)

const trainCommand = Command.make(
  "train",
  { ...runFlags, until: untilFlag },
  (flags) => train({ ...runArgs(flags), until: Option.getOrUndefined(flags.until) })
).pipe(
  Command.withDescription("Train a run (resuming from a checkpoint with --resume)")
)

const planCommand = Command.make("plan", runFlags, (flags) => plan(runArgs(flags))).pipe(
  Command.withDescription("Print the resume plan for the same arguments as train; runs nothing (exit 2 when rejected)")
)

const root = Command.make("continuum").pipe(
  Command.withDescription("Training runs that stop, checkpoint and resume correctly"),
  Command.withSubcommands([
    trainCommand, planCommand, inspectCommand, exportCommand, sampleCommand, benchCommand, demoCommand, reportCommand
  ])
)

const program = Command.runWith(root, { version: "0.1.0" })(process.argv.slice(2)).pipe(
  Effect.provide(NodeServices.layer)
)

const exit = await Effect.runPromiseExit(program)
if (Exit.isFailure(exit)) {
  const failure = Cause.findErrorOption(exit.cause)
  if (Option.isNone(failure)) {
    process.stderr.write(`error: ${Cause.pretty(exit.cause)}\n`)
    process.exitCode = ExitCode.failed
  } else if (CliError.isCliError(failure.value)) {
    // Usage errors were already printed with help by the CLI layer.
    process.exitCode = ExitCode.rejected
  } else {
    const error: unknown = failure.value
    process.stderr.write(`error: ${describeError(error)}\n`)
    const tag = (error as { readonly _tag?: unknown })._tag
    process.exitCode = typeof tag === "string" && rejectedTags.has(tag) ? ExitCode.rejected : ExitCode.failed
  }
}
