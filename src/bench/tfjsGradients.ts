/**
 * Gradients for the TensorFlow.js kernels the step peer differentiates. `@tensorflow/tfjs-core`
 * registers no gradients by itself: the `@tensorflow/tfjs` umbrella package does, from ES modules
 * with extension-less imports that Node cannot load, and it is not a dependency here. These follow
 * tfjs-core's own gradient definitions (src/gradients/*_grad.ts, Apache-2.0), restricted to the
 * cases the step uses (gather on axis 0 without batch dimensions). Registering is global to the
 * engine and idempotent here.
 */
import type * as TfCore from "@tensorflow/tfjs-core"

type Tf = typeof TfCore
type T = TfCore.Tensor

let registered = false

export const registerStepGradients = (tf: Tf): void => {
  if (registered) return
  registered = true
  /** Sums `g` over the axes `shape` was broadcast along, back to `shape`. */
  const unbroadcast = (g: T, shape: ReadonlyArray<number>): T => {
    const offset = g.rank - shape.length
    const axes: Array<number> = []
    for (let i = 0; i < g.rank; i++) if (i < offset || (shape[i - offset] === 1 && g.shape[i] !== 1)) axes.push(i)
    return tf.reshape(axes.length > 0 ? tf.sum(g, axes) : g, [...shape])
  }
  /** The axes of a reduction's `axis` attribute (none given: all of them), non-negative. */
  const axesOf = (x: T, axis: number | Array<number> | null | undefined): Array<number> =>
    axis === null || axis === undefined
      ? x.shape.map((_, i) => i)
      : (Array.isArray(axis) ? axis : [axis]).map((a) => (a < 0 ? a + x.rank : a))
  /** `dy` of a reduction over `axes`, spread back over `x`'s shape. */
  const expand = (dy: T, x: T, axes: ReadonlyArray<number>): T => {
    const shape = x.shape.slice()
    for (const a of axes) shape[a] = 1
    return tf.mul(tf.reshape(dy, shape), tf.ones(x.shape))
  }

  const configs: Array<TfCore.GradConfig> = [
    {
      kernelName: "Add",
      inputsToSave: ["a", "b"],
      gradFunc: (dy, [a, b]) => ({ a: () => unbroadcast(dy as T, a.shape), b: () => unbroadcast(dy as T, b.shape) })
    },
    {
      kernelName: "Sub",
      inputsToSave: ["a", "b"],
      gradFunc: (dy, [a, b]) => ({
        a: () => unbroadcast(dy as T, a.shape),
        b: () => unbroadcast(tf.neg(dy as T), b.shape)
      })
    },
    {
      kernelName: "Multiply",
      inputsToSave: ["a", "b"],
      gradFunc: (dy, [a, b]) => ({
        a: () => unbroadcast(tf.mul(dy as T, b), a.shape),
        b: () => unbroadcast(tf.mul(dy as T, a), b.shape)
      })
    },
    { kernelName: "Neg", gradFunc: (dy) => ({ x: () => tf.neg(dy as T) }) },
    // float32 to float32 (the step casts nothing else on the gradient's path)
    { kernelName: "Cast", gradFunc: (dy) => ({ x: () => tf.clone(dy as T) }) },
    {
      kernelName: "Square",
      inputsToSave: ["x"],
      gradFunc: (dy, [x]) => ({ x: () => tf.mul(dy as T, tf.mul(x, 2)) })
    },
    {
      kernelName: "Rsqrt",
      inputsToSave: ["x"],
      gradFunc: (dy, [x]) => ({ x: () => tf.neg(tf.div(dy as T, tf.mul(tf.pow(x, 1.5), 2))) })
    },
    {
      kernelName: "Sigmoid",
      outputsToSave: [true],
      gradFunc: (dy, [y]) => ({ x: () => tf.mul(dy as T, tf.mul(y, tf.sub(1, y))) })
    },
    {
      kernelName: "Softmax",
      outputsToSave: [true],
      gradFunc: (dy, [y], attrs) => {
        const dim = (attrs as { dim: number }).dim
        const dyTimesY = tf.mul(dy as T, y)
        return { logits: () => tf.sub(dyTimesY, tf.mul(tf.sum(dyTimesY, [dim], true), y)) }
      }
    },
    {
      kernelName: "Sum",
      inputsToSave: ["x"],
      gradFunc: (dy, [x], attrs) => ({
        x: () => expand(dy as T, x, axesOf(x, (attrs as { axis?: number | Array<number> }).axis))
      })
    },
    {
      kernelName: "Mean",
      inputsToSave: ["x"],
      gradFunc: (dy, [x], attrs) => {
        const axes = axesOf(x, (attrs as { axis?: number | Array<number> }).axis)
        return { x: () => tf.div(expand(dy as T, x, axes), axes.reduce((n, a) => n * x.shape[a], 1)) }
      }
    },
    {
      kernelName: "Reshape",
      inputsToSave: ["x"],
      gradFunc: (dy, [x]) => ({ x: () => tf.reshape(dy as T, x.shape) })
    },
    {
      kernelName: "Transpose",
      gradFunc: (dy, _, attrs) => {
        const { perm } = attrs as { perm: Array<number> }
        const undo = perm.map((_, i) => perm.indexOf(i))
        return { x: () => tf.transpose(dy as T, undo) }
      }
    },
    {
      kernelName: "SplitV",
      gradFunc: (dy, _, attrs) => ({ x: () => tf.concat(dy as Array<T>, (attrs as { axis: number }).axis) })
    },
    {
      kernelName: "Concat",
      saveAllInputs: true,
      gradFunc: (dy, saved, attrs) => {
        const axis = (attrs as { axis: number }).axis
        const at = axis < 0 ? axis + saved[0].rank : axis
        const parts = tf.split(dy as T, saved.map((t) => t.shape[at]), at)
        return parts.map((part) => () => part) as unknown as Record<string, () => T>
      }
    },
    {
      kernelName: "BatchMatMul",
      inputsToSave: ["a", "b"],
      gradFunc: (dy, [a, b], attrs) => {
        const { transposeA, transposeB } = attrs as { transposeA: boolean; transposeB: boolean }
        if (transposeA || transposeB) throw new Error("tfjs step peer: only untransposed products are differentiated")
        return { a: () => tf.matMul(dy as T, b, false, true), b: () => tf.matMul(a, dy as T, true, false) }
      }
    },
    {
      kernelName: "GatherV2",
      inputsToSave: ["x", "indices"],
      gradFunc: (dy, [x, indices], attrs) => {
        const { axis, batchDims } = attrs as { axis: number; batchDims: number }
        if (axis !== 0 || batchDims !== 0) throw new Error("tfjs step peer: only gathers of rows are differentiated")
        return {
          // The wasm backend has no UnsortedSegmentSum (tfjs-core's choice); ScatterNd sums repeated rows too.
          x: () => tf.scatterND(tf.reshape(indices, [indices.size, 1]), dy as T, x.shape),
          indices: () => indices
        }
      }
    }
  ]
  for (const config of configs) tf.registerGradient(config)
}
