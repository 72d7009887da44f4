import { Console, Effect } from "effect"
import { formatRanksBench, type RanksBenchOptions, runRanksBench } from "../../bench/ranks.ts"
import { makeTaskProgress } from "../progress.ts"

/** `continuum bench ranks`. */
export const benchRanks = (options: RanksBenchOptions) =>
  Effect.gen(function*() {
    const progress = makeTaskProgress()
    const bench = yield* runRanksBench({ ...options, onProgress: progress.report }).pipe(
      Effect.ensuring(Effect.sync(progress.finish))
    )
    yield* Console.log(formatRanksBench(bench))
  })
