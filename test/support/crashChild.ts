/**
 * A training process for tests that stop or kill it from outside:
 *
 *   node --import tsx test/support/crashChild.ts <runDir> '<json overrides>' [auto|exact|...]
 *
 * It trains `tinyConfig(runDir, overrides)` the way `continuum train` does — start resolved from
 * `--resume` (none, `auto`, a preset or a policy file), SIGINT/SIGTERM turned into a graceful stop —
 * and prints one JSON line per event on stdout, so a parent can time its signals. Exit codes are the
 * CLI's: 0 finished (or stopped gracefully), 1 failed while running, 2 rejected before any step.
 */
import { NodeFileSystem } from "@effect/platform-node"
import { Cause, Context, Effect, Exit, Layer, Stream } from "effect"
import { duringSetup, ExitCode, SetupFailed } from "../../src/cli/exitCodes.ts"
import { processSignalsLayer } from "../../src/cli/signals.ts"
import { Start } from "../../src/config/Start.ts"
import { resolveStart } from "../../src/resume/start.ts"
import { runLayer } from "../../src/train/layers.ts"
import { Trainer } from "../../src/train/Trainer.ts"
import { tinyConfig } from "./tinyRun.ts"

const [runDir, overridesJson = "{}", resume] = process.argv.slice(2)
if (runDir === undefined) {
  process.stderr.write("usage: crashChild.ts <runDir> [json overrides] [resume]\n")
  process.exit(ExitCode.rejected)
}

const emit = (record: object) => process.stdout.write(JSON.stringify(record) + "\n")

const program = Effect.scoped(Effect.gen(function*() {
  const setup = Effect.gen(function*() {
    const config = yield* tinyConfig(runDir, JSON.parse(overridesJson) as Record<string, unknown>)
    const start = yield* resolveStart({ resume, from: undefined })
    // Provided to the run, not merged beside it: the trainer reads the stop signal while it is built.
    return yield* Layer.build(runLayer(config, start).pipe(Layer.provideMerge(processSignalsLayer)))
  })
  const context = yield* duringSetup(setup)
  emit({ _tag: "Started", step: Context.get(context, Start).step, pid: process.pid })
  yield* Context.get(context, Trainer).events.pipe(Stream.runForEach((event) => Effect.sync(() => emit(event))))
  emit({ _tag: "Finished" })
})).pipe(Effect.provide(NodeFileSystem.layer))

const exit = await Effect.runPromiseExit(program)
if (Exit.isFailure(exit)) {
  process.stderr.write(`${Cause.pretty(exit.cause)}\n`)
  const rejected = exit.cause.reasons.some((r) => Cause.isFailReason(r) && r.error instanceof SetupFailed)
  process.exitCode = rejected ? ExitCode.rejected : ExitCode.failed
}
