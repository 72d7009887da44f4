// effect's modules by path, here and in every module the CLI loads before a command runs: the
// "effect" entry imports all of effect's several hundred modules, a third of the start-up time.
import * as NodeServices from "@effect/platform-node/NodeServices"
import * as Cause from "effect/Cause"
import { CliError, Command } from "effect/cli"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Logger from "effect/Logger"
import * as Option from "effect/Option"
import { benchCommand } from "./commands/bench.ts"
import { demoCommand } from "./commands/demo.ts"
import { exportCommand } from "./commands/export.ts"
import { inspectCommand } from "./commands/inspect.ts"
import { planCommand } from "./commands/plan.ts"
import { reportCommand } from "./commands/report.ts"
import { sampleCommand } from "./commands/sample.ts"
import { trainCommand } from "./commands/train.ts"
import { ExitCode } from "./exitCodes.ts"

// Each command loads what it runs when it runs (see lazy.ts): importing these definitions loads
// only their flags, so `--version`, `--help` and `inspect` start without the trainer or gpu.js.
const root = Command.make("continuum").pipe(
  Command.withDescription("Training runs that stop, checkpoint and resume correctly"),
  Command.withSubcommands([
    trainCommand,
    planCommand,
    inspectCommand,
    exportCommand,
    sampleCommand,
    benchCommand,
    demoCommand,
    reportCommand
  ])
)

/** Every error a command can fail with, usage errors aside (the CLI layer prints those with help). */
type CommandError = Exclude<Command.Error<typeof root>, CliError.CliError>

/**
 * The exit code of every error a command can fail with: 2 when it was rejected before any step
 * ran, 1 when it failed while running. An error nobody mapped here does not compile.
 */
const exitCodes: { readonly [Tag in CommandError["_tag"]]: ExitCode } = {
  SetupFailed: ExitCode.rejected,
  SampleOptionInvalid: ExitCode.rejected,
  // Raised while a run is built, before its first step (bench builds runs without SetupFailed).
  ConfigError: ExitCode.rejected,
  DataSourceEmpty: ExitCode.rejected,
  DataSourceInvalid: ExitCode.rejected,
  DataSourceNotFound: ExitCode.rejected,
  DataSourceUnreadable: ExitCode.rejected,
  DataSplitInvalid: ExitCode.rejected,
  DatasetTooSmall: ExitCode.rejected,
  GpujsUnavailableError: ExitCode.rejected,
  MissingParamError: ExitCode.rejected,
  ParamShapeError: ExitCode.rejected,
  UnexpectedParamError: ExitCode.rejected,
  ValidationSetTooSmall: ExitCode.rejected,
  ExportIntoCheckpoint: ExitCode.rejected,
  VocabSizeMismatch: ExitCode.rejected,
  // Another live process trains in the run directory: refused before anything was touched.
  RunDirLocked: ExitCode.rejected,
  // checkpoint.location's bucket is missing or refused: checked when the store opens, before any step.
  CheckpointStoreUnavailable: ExitCode.rejected,
  BenchJsonTargetInvalid: ExitCode.rejected,
  SaveModesDiverged: ExitCode.failed,
  CliBenchFailed: ExitCode.failed,
  CheckpointCorrupt: ExitCode.failed,
  CheckpointIoError: ExitCode.failed,
  CheckpointNotFound: ExitCode.failed,
  CheckpointPathInvalid: ExitCode.failed,
  DemoError: ExitCode.failed,
  ExportFailed: ExitCode.failed,
  InvalidSnapshot: ExitCode.failed,
  MetricsError: ExitCode.failed,
  ModelUnloadable: ExitCode.failed,
  NoValidCheckpoint: ExitCode.failed,
  NonFiniteLogits: ExitCode.failed,
  NonFiniteTraining: ExitCode.failed,
  RankFailed: ExitCode.failed,
  NotByteLevel: ExitCode.failed,
  ReportError: ExitCode.failed,
  RunLockError: ExitCode.failed,
  VerificationFailed: ExitCode.failed
}

// Log lines (warnings such as a skipped checkpoint) go to stderr beside progress and errors, so
// stdout carries only a command's output.
const program = Command.runWith(root, { version: "0.1.0" })(process.argv.slice(2)).pipe(
  Effect.provideService(Logger.LogToStderr, true),
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
    const { describeError } = await import("./describeError.ts")
    process.stderr.write(`error: ${describeError(failure.value)}\n`)
    process.exitCode = exitCodes[failure.value._tag]
  }
}
