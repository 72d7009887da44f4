import type { KernelsShape } from "../kernels/KernelsShape.ts"
import { type DType, type FloatArray, sizeOf } from "../tensor/tensor.ts"
import { Arena } from "./arena.ts"
import { ShapeError, TapeNotRecordingError } from "./errors.ts"
import { Var } from "./var.ts"

/**
 * Records the backward closure of every op run through it, then replays them in reverse.
 *
 * All arithmetic happens in the ops through `k`, the numeric backend. Values and gradients of
 * intermediate Vars come from `arena`, so a tape rewound and replayed over the same graph reuses
 * its buffers. With `recording` false (forward-only use) no closures are kept and no
 * gradient buffers are ever requested.
 */
export class Tape {
  private readonly nodes: Array<() => void> = []

  constructor(
    readonly k: KernelsShape,
    readonly dtype: DType,
    readonly recording: boolean = true,
    readonly arena: Arena = new Arena(dtype)
  ) {}

  /** Forgets the recorded ops and rewinds the arena, ready to replay the same graph. */
  reset(): void {
    this.nodes.length = 0
    this.arena.rewind()
  }

  /** A leaf over existing data (a parameter or an input); `grad`, when given, receives its gradient. */
  leaf(shape: ReadonlyArray<number>, value: FloatArray, requiresGrad = true, grad: FloatArray | null = null): Var {
    if (value.length !== sizeOf(shape)) {
      throw new ShapeError({
        op: "leaf",
        operand: "value",
        expected: `${sizeOf(shape)} values for [${shape.join(", ")}]`,
        actual: `${value.length} values`
      })
    }
    return new Var(shape, value, requiresGrad && this.recording, grad)
  }

  /** A fresh intermediate of the given shape (contents undefined until an op writes them). */
  output(shape: ReadonlyArray<number>, requiresGrad: boolean): Var {
    return new Var(shape, this.arena.take(sizeOf(shape)), requiresGrad && this.recording)
  }

  /** Scratch storage that lives as long as the tape's current pass (e.g. saved statistics). */
  scratch(n: number): FloatArray {
    return this.arena.take(n)
  }

  record(backward: () => void): void {
    if (this.recording) this.nodes.push(backward)
  }

  /**
   * The buffer an op's backward writes `v`'s gradient into, and whether to add to it.
   * Marks the gradient as present: the caller must write the whole buffer.
   */
  gradTarget(v: Var): { readonly buffer: FloatArray; readonly accumulate: boolean } {
    const accumulate = v.hasGrad
    if (v.grad === null) v.grad = this.arena.take(v.size)
    v.hasGrad = true
    return { buffer: v.grad, accumulate }
  }

  /** `v`'s gradient buffer, cleared if it holds no contribution yet, for kernels that only add. */
  gradAccumulator(v: Var): FloatArray {
    const { buffer, accumulate } = this.gradTarget(v)
    if (!accumulate) this.k.storage.fill(buffer, 0)
    return buffer
  }

  /**
   * Seeds `root`'s gradient (ones by default, i.e. d(sum root)/d·) and runs the recorded
   * backward closures in reverse order. Leaves that received no gradient keep `hasGrad` false.
   */
  backward(root: Var, seed?: FloatArray): void {
    if (!this.recording) throw new TapeNotRecordingError({ operation: "backward" })
    const { buffer } = this.gradTarget(root)
    // Through the storage: the kernels may keep the buffer's values elsewhere (on a device).
    if (seed === undefined) this.k.storage.fill(buffer, 1)
    else {
      buffer.set(seed)
      this.k.storage.written(buffer)
    }
    for (let i = this.nodes.length - 1; i >= 0; i--) this.nodes[i]()
    this.nodes.length = 0
  }
}
