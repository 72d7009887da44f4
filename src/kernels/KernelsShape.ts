import type { FloatArray } from "../tensor/tensor.ts"
import type { WasmStorage } from "./cpu/wasm/storage.ts"
import type { TensorStorage } from "./TensorStorage.ts"

/**
 * The numeric backend interface. Every op of the autograd layer goes through it, so a backend
 * (cpu, gpujs) can be swapped without touching models or optimizers.
 *
 * All functions are plain synchronous calls over flat row-major arrays — no Effect, no
 * allocation per element — because they run thousands of times per step. Outputs are written
 * into caller-provided arrays. Arrays are Float32Array in training; Float64Array is accepted so
 * gradient checks can run the same code in double precision.
 *
 * Layout conventions:
 * - matrices are row-major; a linear layer's weight is stored `[out, in]`.
 * - attention tensors q, k, v, out are `[B, T, H, hd]` — the natural layout of a `[B·T, d]`
 *   linear output with `d = H·hd`. What attention saves for its backward is the backend's
 *   choice (`attentionSavedLength`): the cpu backend saves the per-row log-sum-exp `[B, H, T]`
 *   for float32 and the probabilities `[B, H, T, T]` for float64; gpujs the probabilities.
 * - "accumulate" arguments add into the output instead of overwriting it.
 */
export interface KernelsShape {
  /** "cpu" or "gpujs". */
  readonly backend: string
  /** The mode that actually runs (for gpujs: the gpu.js mode after any fallback). */
  readonly mode: string
  /**
   * Set when a rank's worker thread can build its own instance that computes exactly what this one
   * does (`cpu`: `makeCpuKernels` over a storage of the same memory), so the run may compute its
   * updates on worker-thread ranks that share this instance's memory.
   * Absent when the instance only works on the thread that made it: gpu.js's device, or kernels
   * wrapped or supplied by code (a profiler, a custom backend), which the run then uses itself.
   */
  readonly forRanks?: { readonly backend: "cpu"; readonly storage: WasmStorage }
  /**
   * Where the run allocates the tensors these kernels work on (parameters, gradients, optimizer
   * moments, activations), so the kernels can use them in place. Any Float32Array is still
   * accepted as an operand; one from elsewhere may cost a copy.
   */
  readonly storage: TensorStorage

  /**
   * `C[m×n] = op(A)·op(B)` (or `C += …` when accumulate). `op(A)` is `m×k`: A is stored `[m, k]`,
   * or `[k, m]` when transA. `op(B)` is `k×n`: B is stored `[k, n]`, or `[n, k]` when transB.
   */
  matmul(
    a: FloatArray,
    b: FloatArray,
    c: FloatArray,
    m: number,
    n: number,
    k: number,
    transA: boolean,
    transB: boolean,
    accumulate: boolean
  ): void

  /** `out[i] = a[i] + b[i]`; out may alias a or b. */
  add(a: FloatArray, b: FloatArray, out: FloatArray): void
  /** `out[i] = a[i] * b[i]`; out may alias a or b. */
  mul(a: FloatArray, b: FloatArray, out: FloatArray): void
  /** `out[i] = s * x[i]`; out may alias x. */
  scale(x: FloatArray, s: number, out: FloatArray): void
  /** `dst[i] += src[i]`. */
  addInPlace(dst: FloatArray, src: FloatArray): void

  /** `out = x · sigmoid(x)`. */
  silu(x: FloatArray, out: FloatArray): void
  /** `dx (+)= dy · silu'(x)`. */
  siluBackward(x: FloatArray, dy: FloatArray, dx: FloatArray, accumulate: boolean): void

  /** RMSNorm over rows of `dim`: `out = x / sqrt(mean(x²) + eps) ⊙ w`; writes `rstd[row] = 1/sqrt(…)`. */
  rmsnorm(x: FloatArray, w: FloatArray, out: FloatArray, rstd: FloatArray, rows: number, dim: number, eps: number): void
  /** Backward of rmsnorm: `dx (+)= …` (accumulate flag), `dw += …` always accumulates. */
  rmsnormBackward(
    x: FloatArray,
    w: FloatArray,
    rstd: FloatArray,
    dy: FloatArray,
    dx: FloatArray,
    dw: FloatArray,
    rows: number,
    dim: number,
    accumulate: boolean
  ): void

  /**
   * RoPE on `[B, T, H, hd]` (rows = B·T), rotating interleaved pairs `(x[2i], x[2i+1])` by angle
   * `pos · θ^(-2i/hd)` with `pos = row mod T`. `inverse` rotates by the negative angle, which is
   * exactly the backward pass (the rotation is orthogonal). out may alias x.
   */
  rope(
    x: FloatArray,
    out: FloatArray,
    rows: number,
    T: number,
    H: number,
    hd: number,
    theta: number,
    inverse: boolean
  ): void

  /**
   * How many values `attention` saves for its backward at these sizes, for operands of the type
   * of `q` (the caller allocates the buffer; its contents are the backend's own).
   */
  attentionSavedLength(q: FloatArray, B: number, T: number, H: number, hd: number): number
  /**
   * Causal scaled-dot-product attention: `out = softmax_causal(q·kᵀ / √hd) · v` per batch b and
   * head h; writes into `saved` (`attentionSavedLength` values) what the backward needs.
   */
  attention(
    q: FloatArray,
    k: FloatArray,
    v: FloatArray,
    saved: FloatArray,
    out: FloatArray,
    B: number,
    T: number,
    H: number,
    hd: number
  ): void
  /** Backward of attention from its inputs, its output and what it saved; overwrites dq, dk, dv. */
  attentionBackward(
    q: FloatArray,
    k: FloatArray,
    v: FloatArray,
    out: FloatArray,
    saved: FloatArray,
    dOut: FloatArray,
    dq: FloatArray,
    dk: FloatArray,
    dv: FloatArray,
    B: number,
    T: number,
    H: number,
    hd: number
  ): void

  /** `out[r] = table[ids[r]]` for rows of `dim`. */
  embedding(table: FloatArray, ids: Int32Array, out: FloatArray, dim: number): void
  /** `dTable[ids[r]] += dOut[r]`, rows in order (deterministic). */
  embeddingBackward(dOut: FloatArray, ids: Int32Array, dTable: FloatArray, dim: number): void

  /**
   * Softmax cross-entropy over rows of `vocab` logits. Returns the SUM of per-row losses
   * (accumulated in float64), and writes `dLogits = (softmax − onehot) · gradScale`.
   */
  crossEntropy(
    logits: FloatArray,
    targets: Int32Array,
    dLogits: FloatArray,
    rows: number,
    vocab: number,
    gradScale: number
  ): number

  /** Row-wise softmax of `rows × cols` (used for sampling). */
  softmax(x: FloatArray, out: FloatArray, rows: number, cols: number): void

  /** `Σ x[i]²`, accumulated in float64 (for global-norm clipping). */
  sumSquares(x: FloatArray): number

  /**
   * AdamW, decoupled weight decay, bias-corrected; `step` is the 1-based update count:
   * `m = β1·m + (1−β1)·g; v = β2·v + (1−β2)·g²; p −= lr·(m̂/(√v̂ + eps) + wd·p)`.
   */
  adamw(
    param: FloatArray,
    grad: FloatArray,
    m: FloatArray,
    v: FloatArray,
    lr: number,
    beta1: number,
    beta2: number,
    eps: number,
    weightDecay: number,
    step: number
  ): void
  /**
   * SGD with momentum (PyTorch semantics): `g' = g + wd·p; buf = μ·buf + g'` (buf = g' on the
   * first step, `step` = 1); `p −= lr·(nesterov ? g' + μ·buf : buf)`.
   */
  sgd(
    param: FloatArray,
    grad: FloatArray,
    buf: FloatArray,
    lr: number,
    momentum: number,
    nesterov: boolean,
    weightDecay: number,
    step: number
  ): void
}
