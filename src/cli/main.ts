import { NodeServices } from "@effect/platform-node"
import { Cause, Effect, Exit, Option } from "effect"
import { CliError, Command } from "effect/cli"
import { benchCommand } from "./commands/bench.ts"
import { demoCommand } from "./commands/demo.ts"
import { exportCommand } from "./commands/export.ts"
import { inspectCommand } from "./commands/inspect.ts"
import { planCommand } from "./commands/plan.ts"
import { reportCommand } from "./commands/report.ts"
import { sampleCommand } from "./commands/sample.ts"
import { trainCommand } from "./commands/train.ts"
import { describeError, ExitCode, rejectedTags } from "./exitCodes.ts"

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
