/**
 * Where the kernel time of one training step goes: per kernel family, and per part of the model
 * (embedding, each layer, head, loss, optimizer) split into forward and backward.
 *
 * The part of a call is read off its arguments: a call that reads a parameter or writes its
 * gradient belongs to that parameter's part (`layers.3.attention.wq.weight` → layer 3). A call
 * that touches no parameter (attention, RoPE, SiLU, the residual adds, their backwards) belongs
 * to the part around it: in the forward pass the model goes layer by layer and such a call
 * follows its layer's first parameter call (the layer's RMSNorm), so it takes the part of the
 * call before it; the backward pass replays the tape in reverse, each layer opening with the
 * backward of its residual add and closing with its first RMSNorm's backward, so such a call
 * takes the part of the call after it. The model needs no hook for this: only the parameter and
 * gradient buffers, which the step owns, and the order of the calls.
 */
import type { KernelMethod } from "./profiledKernels.ts"

/** The families the profile reports, each a set of kernel calls. */
export type ProfileFamily =
  | "matmul"
  | "attention"
  | "attentionBackward"
  | "rmsnorm"
  | "rmsnormBackward"
  | "rope"
  | "elementwise"
  | "embedding"
  | "crossEntropy"
  | "softmax"
  | "sumSquares"
  | "adamw"
  | "sgd"

/** The family of each kernel call; SiLU, its backward, and the arithmetic ops count as elementwise. */
export const familyOf: Readonly<Record<KernelMethod, ProfileFamily>> = {
  matmul: "matmul",
  attention: "attention",
  attentionBackward: "attentionBackward",
  rmsnorm: "rmsnorm",
  rmsnormBackward: "rmsnormBackward",
  rope: "rope",
  silu: "elementwise",
  siluBackward: "elementwise",
  mul: "elementwise",
  add: "elementwise",
  scale: "elementwise",
  addInPlace: "elementwise",
  embedding: "embedding",
  embeddingBackward: "embedding",
  crossEntropy: "crossEntropy",
  softmax: "softmax",
  sumSquares: "sumSquares",
  adamw: "adamw",
  sgd: "sgd"
}

export const profileFamilies: ReadonlyArray<ProfileFamily> = [
  "matmul",
  "attention",
  "attentionBackward",
  "rmsnorm",
  "rmsnormBackward",
  "rope",
  "elementwise",
  "embedding",
  "crossEntropy",
  "softmax",
  "sumSquares",
  "adamw",
  "sgd"
]

/** Whether a call ran in the forward pass, the backward pass, or the optimizer (clipping and update). */
export type StepPhase = "forward" | "backward" | "update"

/** Kernel time and calls of one family, or of one part of the model in one phase. */
export interface Tally {
  ms: number
  calls: number
}

/** One step's kernel time: per family, per part and phase (parts indexed as `parts`), in all. */
export interface StepAttribution {
  readonly families: ReadonlyMap<ProfileFamily, Tally>
  /** The same time per kernel call, for families of several calls (elementwise, embedding). */
  readonly methods: ReadonlyMap<KernelMethod, Tally>
  /** `byPart[i][phase]`: the kernel time of `parts[i]` in that phase. */
  readonly byPart: ReadonlyArray<Readonly<Record<StepPhase, Tally>>>
  readonly kernelMs: number
}

/** The parts of a llama model, in forward order, then the loss and the optimizer. */
export const modelParts = (layers: number): ReadonlyArray<string> => [
  "embedding",
  ...Array.from({ length: layers }, (_, i) => `layer ${i}`),
  "head",
  "loss",
  "optimizer"
]

/** The part a llama parameter belongs to, as an index into `modelParts(layers)`. */
export const partOfParam = (name: string, layers: number): number => {
  if (name.startsWith("tok_embeddings.")) return 0
  const layer = /^layers\.(\d+)\./.exec(name)
  return layer === null ? layers + 1 : 1 + Number(layer[1])
}

interface CallRecord {
  readonly method: KernelMethod
  readonly ms: number
  readonly phase: StepPhase
  /** The part read off the arguments, or -1 when they hold no parameter or gradient buffer. */
  readonly part: number
}

const emptyPhases = (): Record<StepPhase, Tally> => ({
  forward: { ms: 0, calls: 0 },
  backward: { ms: 0, calls: 0 },
  update: { ms: 0, calls: 0 }
})

/**
 * Collects the kernel calls of a step and attributes them when the step ends. The step tells it
 * when the optimizer starts (`startUpdate`); the forward pass ends with the cross-entropy call,
 * which computes the loss and its gradient together.
 */
export class StepAttributor {
  private calls: Array<CallRecord> = []
  private phase: StepPhase = "forward"
  private readonly loss: number
  private readonly optimizer: number

  /** `partOfBuffer`: each parameter's value and gradient buffer, with its part's index. */
  constructor(
    readonly parts: ReadonlyArray<string>,
    private readonly partOfBuffer: ReadonlyMap<unknown, number>
  ) {
    this.loss = parts.indexOf("loss")
    this.optimizer = parts.indexOf("optimizer")
  }

  /** A kernel call (the listener of `profiledKernels`). */
  readonly record = (method: KernelMethod, ms: number, args: ReadonlyArray<unknown>): void => {
    let part = -1
    if (this.phase === "update") part = this.optimizer
    else if (method === "crossEntropy") part = this.loss
    else {
      for (const arg of args) {
        const p = this.partOfBuffer.get(arg)
        if (p !== undefined) {
          part = p
          break
        }
      }
    }
    this.calls.push({ method, ms, phase: this.phase, part })
    if (method === "crossEntropy" && this.phase === "forward") this.phase = "backward"
  }

  /** From here until `finishStep`, every call is the optimizer's. */
  startUpdate(): void {
    this.phase = "update"
  }

  /** The attribution of the calls since the last `finishStep`, which starts the next step. */
  finishStep(): StepAttribution {
    const calls = this.calls
    this.calls = []
    this.phase = "forward"
    const parts = resolveParts(calls)
    const families = new Map<ProfileFamily, Tally>()
    const methods = new Map<KernelMethod, Tally>()
    const byPart = this.parts.map(emptyPhases)
    let kernelMs = 0
    calls.forEach((call, i) => {
      const family = familyOf[call.method]
      add(families, family, call.ms)
      add(methods, call.method, call.ms)
      const slot = byPart[parts[i]!]![call.phase]
      slot.ms += call.ms
      slot.calls += 1
      kernelMs += call.ms
    })
    return { families, methods, byPart, kernelMs }
  }
}

const add = <K>(tallies: Map<K, Tally>, key: K, ms: number): void => {
  const tally = tallies.get(key) ?? { ms: 0, calls: 0 }
  tally.ms += ms
  tally.calls += 1
  tallies.set(key, tally)
}

/**
 * Each call's part: its own when its arguments named one; else, in the forward pass, the part of
 * the nearest call before it that has one, and in the backward pass the nearest after it (falling
 * back to the other direction at either end of the pass).
 */
const resolveParts = (calls: ReadonlyArray<CallRecord>): Array<number> => {
  const parts = calls.map((c) => c.part)
  const fill = (from: number, to: number, step: 1 | -1, phase: StepPhase) => {
    let current = -1
    for (let i = from; i !== to; i += step) {
      if (calls[i]!.phase !== phase) continue
      if (parts[i]! >= 0) current = parts[i]!
      else if (current >= 0) parts[i] = current
    }
  }
  const n = calls.length
  fill(0, n, 1, "forward")
  fill(n - 1, -1, -1, "backward")
  // Whatever is left has no part on its preferred side: take the other one.
  fill(n - 1, -1, -1, "forward")
  fill(0, n, 1, "backward")
  // A call that no part reaches at all (none in a llama step) is counted with the first part.
  return parts.map((p) => (p >= 0 ? p : 0))
}
