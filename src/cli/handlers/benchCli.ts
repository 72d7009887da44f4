import { Console, Effect } from "effect"
import { type CliBenchOptions, formatCliBench, runCliBench } from "../../bench/cli.ts"

/** `continuum bench cli` (apart from the other benchmarks, which load the kernels and gpu.js). */
export const benchCli = (options: CliBenchOptions) =>
  Effect.gen(function*() {
    if (options.checkpoint === undefined) {
      yield* Console.error("writing a reference checkpoint: train --until 1 with the default configuration")
    }
    const report = yield* runCliBench(options)
    yield* Console.log(formatCliBench(report))
  })
