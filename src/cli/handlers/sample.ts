import { Console, Effect } from "effect"
import { makeCpuKernels } from "../../kernels/cpu/index.ts"
import { ModelUnloadable, NonFiniteLogits, NotByteLevel, SampleOptionInvalid } from "../../sample/errors.ts"
import { checkGenerateOptions, checkPrompt, generate } from "../../sample/generate.ts"
import { type LoadedModel, loadModelAt } from "../../sample/loadModel.ts"
import { withCheckpoint } from "../../sample/target.ts"

export interface SampleArgs {
  /** A checkpoint directory, or a run directory (its latest valid checkpoint). */
  readonly dir: string
  readonly prompt: string
  readonly tokens: number
  readonly temperature: number
  readonly seed: number
  /** 0: no limit. */
  readonly topK: number
  /** Seconds to wait for a run's first valid checkpoint; 0 fails at once. */
  readonly wait: number
}

export interface SampleResult {
  /** The checkpoint the model came from. */
  readonly location: string
  readonly step: number
  readonly runId: string
  /** Prompt bytes followed by the generated ones. */
  readonly bytes: Uint8Array
  /** `bytes` as UTF-8, invalid sequences replaced by U+FFFD. */
  readonly text: string
}

/** Token-file runs were trained on arbitrary ids, not bytes: their tokens cannot spell a text prompt. */
const checkByteLevel = (loaded: LoadedModel): NotByteLevel | undefined =>
  loaded.config.data.source.toLowerCase().endsWith(".bin")
    ? new NotByteLevel({
      location: loaded.location,
      detail: `it was trained on the token file ${loaded.config.data.source}`
    })
    : undefined

const validate = (args: SampleArgs): SampleOptionInvalid | undefined =>
  (!Number.isFinite(args.wait) || args.wait < 0)
    ? new SampleOptionInvalid({ option: "--wait", value: String(args.wait), expected: "a number of seconds ≥ 0" })
    : checkGenerateOptions(args)

/** Loads the model `args.dir` names and continues `args.prompt`; prints nothing. */
export const sampleText = (args: SampleArgs) =>
  Effect.scoped(Effect.gen(function*() {
    const invalid = validate(args)
    if (invalid !== undefined) return yield* invalid
    const prompt = new TextEncoder().encode(args.prompt)
    const loaded = yield* withCheckpoint(args.dir, args.wait, loadModelAt)
    const unusable = checkByteLevel(loaded) ?? checkPrompt(prompt, loaded.model.vocabSize)
    if (unusable !== undefined) return yield* unusable
    const bytes = yield* Effect.try({
      try: () => generate(loaded.model, loaded.params, makeCpuKernels(), prompt, args),
      catch: (e) =>
        e instanceof NonFiniteLogits || e instanceof SampleOptionInvalid
          ? e
          : new ModelUnloadable({ location: loaded.location, detail: e instanceof Error ? e.message : String(e) })
    })
    return {
      location: loaded.location,
      step: loaded.step,
      runId: loaded.manifest.runId,
      bytes,
      text: new TextDecoder("utf-8").decode(bytes)
    } satisfies SampleResult
  }))

/** `continuum sample`: the text on stdout, where it came from on stderr. */
export const sample = (args: SampleArgs) =>
  Effect.gen(function*() {
    const result = yield* sampleText(args)
    const mode = args.temperature === 0
      ? "greedy"
      : `temperature ${args.temperature}, seed ${args.seed}${args.topK > 0 ? `, top-k ${args.topK}` : ""}`
    yield* Console.error(
      `sampling ${args.tokens} bytes from step ${result.step} of run ${result.runId} (${result.location}), ${mode}`
    )
    yield* Console.log(result.text)
  })
