/**
 * How much memory a run needs, from its decoded configuration alone, before anything is
 * allocated. Every count follows what the code allocates (f32 everywhere, 4 bytes a value):
 *
 * - parameters: the model's tensors (`model/llama.ts`, `model/mlp.ts`);
 * - gradients: on the cpu backend, whose P ranks are worker threads, a gradient slot per rank and
 *   the step sum, (P + 1) parameter-shaped buffers (`ranks/sharedMemory.ts`); on gpujs, computed on
 *   the run's thread, two (`train/stepper.ts`: the step sum and the micro-batch gradient);
 * - optimizer state: AdamW `exp_avg` and `exp_avg_sq`, SGD `momentum_buffer`;
 * - activations: per rank (each rank's thread keeps its own), the arena of one micro-batch's
 *   forward and backward pass (`autograd/arena.ts`; every op's output, saved statistics —
 *   attention saves what the backend keeps for its backward: one log-sum-exp per query row
 *   [μ, H, T] on the cpu backend, which recomputes the probabilities, the probabilities
 *   [μ, H, T, T] on gpujs —, the gradients of the intermediates) and the micro-batch's ids and
 *   targets;
 * - evaluation: the forward-only arena at the evaluation batch (B windows; shared with the
 *   training arena when μ = B) and the validation batches' ids and targets, kept for the whole run;
 * - checkpoint: a save encodes model and optimizer tensors into one buffer and hands a copy to the
 *   writer thread;
 * - data: the bytes read and the token array built from them.
 *
 * - runtime: Node, the TypeScript loader and the libraries, a constant measured as the peak
 *   resident memory of `continuum plan` (about 250 MiB), and per rank thread its own heap, code and
 *   WebAssembly memories (measured: peak RSS grows by 85 MiB per rank of the reference run).
 *
 * The activation formulas were read off the ops and are checked against the real arena in
 * `test/config/memoryEstimate.test.ts`; README "Limits" compares estimates with measured peaks.
 */
import type { ModelConfig, RunConfig } from "./RunConfig.ts"

export const BYTES_PER_VALUE = 4

/** The largest number of values one tensor may hold: typed-array indices stay 32-bit integers. */
export const MAX_TENSOR_VALUES = 2 ** 31 - 1

/** Resident memory of the process before a run allocates anything (peak RSS of `continuum plan`). */
export const RUNTIME_BYTES = 256 * 1024 * 1024

/** What a rank's worker thread adds before its tensors: its isolate's heap, code and modules. */
export const RANK_RUNTIME_BYTES = 88 * 1024 * 1024

/**
 * The most the cpu backend's tensor memory holds: its kernels take byte offsets as signed 32-bit
 * numbers, so the one shared WebAssembly memory that holds every tensor stops at 2 GiB.
 */
export const CPU_TENSOR_MEMORY_BYTES = 2 ** 31

/** The estimate's tensors, which the cpu backend keeps in its memory: everything but data, checkpoints and runtime. */
export const tensorMemoryBytes = (estimate: MemoryEstimate): number =>
  estimate.parameters + estimate.gradients + estimate.optimizer + estimate.activations + estimate.evaluation

export interface MemoryEstimate {
  readonly parameters: number
  readonly gradients: number
  readonly optimizer: number
  readonly activations: number
  readonly evaluation: number
  readonly checkpoint: number
  readonly data: number
  readonly runtime: number
  /** The sum of the parts, in bytes. */
  readonly total: number
}

/** The parts of an estimate, in the order they are reported. */
export const estimateParts = [
  "parameters",
  "gradients",
  "optimizer",
  "activations",
  "evaluation",
  "checkpoint",
  "data",
  "runtime"
] as const satisfies ReadonlyArray<keyof MemoryEstimate>

/** Parameter count of the configured model; equals the sum of the sizes of its ParamSpecs. */
export const parameterCount = (model: ModelConfig): number => {
  const { vocabSize: v, dim: d, layers, ffnDim: f } = model
  if (model.kind === "mlp") return v * d + f * d + v * f
  // Embedding and untied output head, the final norm; per layer two norms, wq wk wv wo, w1 w2 w3.
  return 2 * v * d + d + layers * (2 * d + 4 * d * d + 3 * f * d)
}

/** What attention saves per query row and head: its log-sum-exp (cpu), or its probabilities (gpujs). */
const attentionSavedPerRow = (config: RunConfig): number => config.kernels.backend === "gpujs" ? config.model.seqLen : 1

/** Arena values of a forward pass over `rows = batch·seqLen` positions (`recording` adds nothing forward). */
const forwardValues = (model: ModelConfig, batch: number, savedPerRow: number): number => {
  const { vocabSize: v, dim: d, layers, ffnDim: f, heads, seqLen: t } = model
  const rows = batch * t
  // The cross-entropy head keeps the logits and their softmax gradient: 2·rows·V.
  if (model.kind === "mlp") return rows * d + 2 * rows * f + 2 * rows * v
  // Per layer: 12 [rows, d] outputs (norms, q k v before and after RoPE, attention, wo, residuals,
  // w2), 4 [rows, f] (w1, silu, w3, product), 2 rows of RMS statistics, what attention saves per
  // query row and head.
  const perLayer = 12 * rows * d + 4 * rows * f + 2 * rows + batch * heads * t * savedPerRow
  // Embedding, final norm with its statistics, logits and their gradient.
  return layers * perLayer + 2 * rows * d + rows + 2 * rows * v
}

/** Arena values the backward pass adds: the gradients of the intermediates. */
const backwardValues = (model: ModelConfig, batch: number): number => {
  const { dim: d, layers, ffnDim: f, seqLen: t } = model
  const rows = batch * t
  if (model.kind === "mlp") return rows * d + 2 * rows * f + 1
  return layers * (12 * rows * d + 4 * rows * f) + 2 * rows * d + 1
}

/** Int32 ids and targets of `count` windows. */
const batchBytes = (count: number, seqLen: number): number => 2 * 4 * count * seqLen

/**
 * The estimate for `config` run on `ranks` ranks (P, `batch.dp` resolved), with `dataBytes` the
 * size of the data source on disk (0 when it is not known). Plain floating-point arithmetic: a
 * configuration far beyond any machine yields a huge finite number, never an overflow.
 */
export const estimateMemory = (config: RunConfig, dataBytes: number, ranks = 1): MemoryEstimate => {
  const { model, batch } = config
  // The gpujs backend computes every micro-batch on the run's thread; the cpu backend on P threads.
  const threads = config.kernels.backend === "cpu" ? ranks : 0
  const parameters = parameterCount(model) * BYTES_PER_VALUE
  const gradients = (threads === 0 ? 2 : threads + 1) * parameters
  const optimizer = (config.optimizer.kind === "adamw" ? 2 : 1) * parameters
  const saved = attentionSavedPerRow(config)
  const activations = Math.max(threads, 1) *
    ((forwardValues(model, batch.micro, saved) + backwardValues(model, batch.micro)) * BYTES_PER_VALUE +
      batchBytes(batch.micro, model.seqLen))
  // Evaluation runs μ windows at a time: on the run's thread it reuses the training arena's buffers
  // (arenas are kept per batch geometry); where ranks train, the run's thread has its own.
  const evaluationArena = threads === 0 ? 0 : forwardValues(model, batch.micro, saved) * BYTES_PER_VALUE
  const evaluation = evaluationArena + batchBytes(config.eval.batches * batch.global, model.seqLen)
  const checkpoint = 2 * (parameters + optimizer)
  const data = 2 * dataBytes
  const runtime = RUNTIME_BYTES + threads * RANK_RUNTIME_BYTES
  return {
    parameters,
    gradients,
    optimizer,
    activations,
    evaluation,
    checkpoint,
    data,
    runtime,
    total: parameters + gradients + optimizer + activations + evaluation + checkpoint + data + runtime
  }
}

/** One tensor the run allocates: its name, its number of values, and the fields that size it. */
export interface TensorSize {
  readonly tensor: string
  readonly values: number
  readonly fields: string
}

/**
 * The tensors whose sizes grow fastest with the configuration: weights, and the activations of
 * the evaluation batch (B ≥ μ windows, so they bound the training ones).
 */
export const largestTensors = (config: RunConfig): ReadonlyArray<TensorSize> => {
  const { vocabSize: v, dim: d, ffnDim: f, heads, seqLen: t, kind } = config.model
  const { micro, global } = config.batch
  const sizes: Array<TensorSize> = [
    { tensor: "tok_embeddings.weight", values: v * d, fields: "model.vocabSize × model.dim" },
    { tensor: "the hidden weights", values: f * d, fields: "model.ffnDim × model.dim" },
    {
      tensor: "output.weight",
      values: v * (kind === "mlp" ? f : d),
      fields: `model.vocabSize × model.${kind === "mlp" ? "ffnDim" : "dim"}`
    },
    { tensor: "the logits", values: global * t * v, fields: "batch.global × model.seqLen × model.vocabSize" },
    { tensor: "the hidden activations", values: global * t * f, fields: "batch.global × model.seqLen × model.ffnDim" },
    { tensor: "the residual stream", values: global * t * d, fields: "batch.global × model.seqLen × model.dim" }
  ]
  if (kind === "llama") {
    sizes.push({ tensor: "the attention weights", values: d * d, fields: "model.dim × model.dim" })
    // Only the gpujs backend stores the probabilities; the cpu backend recomputes them per tile.
    if (config.kernels.backend === "gpujs") {
      sizes.push({
        tensor: "the attention probabilities",
        values: global * heads * t * t,
        fields: "batch.global × model.heads × model.seqLen²"
      })
    }
  }
  return sizes
}
