/**
 * The gpujs `KernelsShape`: gpu.js kernels for the heavy families, the cpu backend for the rest.
 *
 * On the device (float32 arrays): matmul (all transpose variants, accumulate), add, mul, scale,
 * addInPlace, silu, siluBackward, softmax, rmsnorm, rmsnormBackward, rope, attention,
 * attentionBackward, crossEntropy, adamw, sgd.
 * Delegated to the cpu backend: embedding and embeddingBackward (a gather and an ordered
 * scatter-add — memory-bound, nothing to gain from a round trip), sumSquares (its contract is a
 * float64 accumulation), every call with a Float64Array operand (gradient checks need double
 * precision, which WebGL does not have), and calls with an empty output (gpu.js cannot create a
 * zero-sized kernel). Every call is checked first with the cpu backend's checks (checks.ts), so
 * both backends reject the same calls with the same error.
 */
import type { FloatArray } from "../../tensor/tensor.ts"
import * as check from "../checks.ts"
import type { KernelsShape } from "../KernelsShape.ts"
import { hostStorage } from "../TensorStorage.ts"
import * as att from "./attention.ts"
import { crossEntropy } from "./crossEntropy.ts"
import type { Device } from "./device.ts"
import * as ew from "./elementwise.ts"
import { matmul } from "./matmul.ts"
import { adamw, sgd } from "./optimizers.ts"
import { rmsnorm, rmsnormBackward } from "./rmsnorm.ts"
import { rope } from "./rope.ts"
import { softmax } from "./softmax.ts"

/** The families that run on the device; everything else delegates to the cpu backend. */
export const deviceKernelNames = [
  "matmul",
  "add",
  "mul",
  "scale",
  "addInPlace",
  "silu",
  "siluBackward",
  "softmax",
  "rmsnorm",
  "rmsnormBackward",
  "rope",
  "attention",
  "attentionBackward",
  "crossEntropy",
  "adamw",
  "sgd"
] as const

export const delegatedKernelNames = ["embedding", "embeddingBackward", "sumSquares"] as const

const f32 = (...xs: ReadonlyArray<FloatArray>): boolean => xs.every((x) => x instanceof Float32Array)

/** Builds the gpujs kernels over `dev`, with `cpu` as the delegate. `mode` reports what runs. */
export const makeBackend = (dev: Device, cpu: KernelsShape): KernelsShape => {
  const g = {
    matmul: matmul(dev),
    add: ew.add(dev),
    mul: ew.mul(dev),
    scale: ew.scale(dev),
    addInPlace: ew.addInPlace(dev),
    silu: ew.silu(dev),
    siluBackward: ew.siluBackward(dev),
    softmax: softmax(dev),
    rmsnorm: rmsnorm(dev),
    rmsnormBackward: rmsnormBackward(dev),
    rope: rope(dev),
    attention: att.attention(dev),
    attentionBackward: att.attentionBackward(dev),
    crossEntropy: crossEntropy(dev),
    adamw: adamw(dev),
    sgd: sgd(dev)
  }
  return {
    backend: "gpujs",
    // Operands travel to the device per call, so tensors stay on the JavaScript heap.
    storage: hostStorage,
    get mode() {
      return dev.fallbacks.length === 0 ? dev.mode : `${dev.mode} (cpu fallback in ${dev.fallbacks.length} kernels)`
    },

    matmul(a, b, c, m, n, k, transA, transB, accumulate) {
      check.matmul(a, b, c, m, n, k)
      if (m * n * k === 0 || !f32(a, b, c)) return cpu.matmul(a, b, c, m, n, k, transA, transB, accumulate)
      g.matmul(a as Float32Array, b as Float32Array, c as Float32Array, m, n, k, transA, transB, accumulate)
    },
    add(a, b, out) {
      check.add(a, b, out)
      if (out.length === 0 || !f32(a, b, out)) return cpu.add(a, b, out)
      g.add(a as Float32Array, b as Float32Array, out as Float32Array)
    },
    mul(a, b, out) {
      check.mul(a, b, out)
      if (out.length === 0 || !f32(a, b, out)) return cpu.mul(a, b, out)
      g.mul(a as Float32Array, b as Float32Array, out as Float32Array)
    },
    scale(x, s, out) {
      check.scale(x, out)
      if (out.length === 0 || !f32(x, out)) return cpu.scale(x, s, out)
      g.scale(x as Float32Array, s, out as Float32Array)
    },
    addInPlace(dst, src) {
      check.addInPlace(dst, src)
      if (dst.length === 0 || !f32(dst, src)) return cpu.addInPlace(dst, src)
      g.addInPlace(dst as Float32Array, src as Float32Array)
    },
    silu(x, out) {
      check.silu(x, out)
      if (out.length === 0 || !f32(x, out)) return cpu.silu(x, out)
      g.silu(x as Float32Array, out as Float32Array)
    },
    siluBackward(x, dy, dx, accumulate) {
      check.siluBackward(x, dy, dx)
      if (dx.length === 0 || !f32(x, dy, dx)) return cpu.siluBackward(x, dy, dx, accumulate)
      g.siluBackward(x as Float32Array, dy as Float32Array, dx as Float32Array, accumulate)
    },
    rmsnorm(x, w, out, rstd, rows, dim, eps) {
      check.rmsnorm(x, w, out, rstd, rows, dim)
      if (rows * dim === 0 || !f32(x, w, out, rstd)) return cpu.rmsnorm(x, w, out, rstd, rows, dim, eps)
      g.rmsnorm(x as Float32Array, w as Float32Array, out as Float32Array, rstd as Float32Array, rows, dim, eps)
    },
    rmsnormBackward(x, w, rstd, dy, dx, dw, rows, dim, accumulate) {
      check.rmsnormBackward(x, w, rstd, dy, dx, dw, rows, dim)
      if (rows * dim === 0 || !f32(x, w, rstd, dy, dx, dw)) {
        return cpu.rmsnormBackward(x, w, rstd, dy, dx, dw, rows, dim, accumulate)
      }
      g.rmsnormBackward(
        x as Float32Array,
        w as Float32Array,
        rstd as Float32Array,
        dy as Float32Array,
        dx as Float32Array,
        dw as Float32Array,
        rows,
        dim,
        accumulate
      )
    },
    rope(x, out, rows, T, H, hd, theta, inverse) {
      check.rope(x, out, rows, H, hd)
      if (rows * H * hd === 0 || !f32(x, out)) return cpu.rope(x, out, rows, T, H, hd, theta, inverse)
      g.rope(x as Float32Array, out as Float32Array, rows, T, H, hd, theta, inverse)
    },
    // The device path keeps the probabilities [B, H, T, T] for its backward; calls it hands to the
    // cpu backend keep what that saves.
    attentionSavedLength(q, B, T, H, hd) {
      return B * T * H * hd === 0 || !f32(q) ? cpu.attentionSavedLength(q, B, T, H, hd) : B * H * T * T
    },
    attention(q, k, v, probs, out, B, T, H, hd) {
      const onCpu = B * T * H * hd === 0 || !f32(q, k, v, probs, out)
      const savedLength = onCpu ? cpu.attentionSavedLength(q, B, T, H, hd) : B * H * T * T
      check.attention(q, k, v, probs, savedLength, out, B, T, H, hd)
      if (onCpu) return cpu.attention(q, k, v, probs, out, B, T, H, hd)
      g.attention(
        q as Float32Array,
        k as Float32Array,
        v as Float32Array,
        probs as Float32Array,
        out as Float32Array,
        B,
        T,
        H,
        hd
      )
    },
    attentionBackward(q, k, v, out, probs, dOut, dq, dk, dv, B, T, H, hd) {
      const onCpu = B * T * H * hd === 0 || !f32(q, k, v, out, probs, dOut, dq, dk, dv)
      const savedLength = onCpu ? cpu.attentionSavedLength(q, B, T, H, hd) : B * H * T * T
      check.attentionBackward(q, k, v, out, probs, savedLength, dOut, dq, dk, dv, B, T, H, hd)
      if (onCpu) return cpu.attentionBackward(q, k, v, out, probs, dOut, dq, dk, dv, B, T, H, hd)
      g.attentionBackward(
        q as Float32Array,
        k as Float32Array,
        v as Float32Array,
        probs as Float32Array,
        dOut as Float32Array,
        dq as Float32Array,
        dk as Float32Array,
        dv as Float32Array,
        B,
        T,
        H,
        hd
      )
    },
    embedding: (table, ids, out, dim) => cpu.embedding(table, ids, out, dim),
    embeddingBackward: (dOut, ids, dTable, dim) => cpu.embeddingBackward(dOut, ids, dTable, dim),
    crossEntropy(logits, targets, dLogits, rows, vocab, gradScale) {
      check.crossEntropy(logits, targets, dLogits, rows, vocab)
      if (rows * vocab === 0 || !f32(logits, dLogits)) {
        return cpu.crossEntropy(logits, targets, dLogits, rows, vocab, gradScale)
      }
      return g.crossEntropy(logits as Float32Array, targets, dLogits as Float32Array, rows, vocab, gradScale)
    },
    softmax(x, out, rows, cols) {
      check.softmax(x, out, rows, cols)
      if (rows * cols === 0 || !f32(x, out)) return cpu.softmax(x, out, rows, cols)
      g.softmax(x as Float32Array, out as Float32Array, rows, cols)
    },
    sumSquares: (x) => cpu.sumSquares(x),
    adamw(param, grad, m, v, lr, beta1, beta2, eps, weightDecay, step) {
      check.adamw(param, grad, m, v)
      if (param.length === 0 || !f32(param, grad, m, v)) {
        return cpu.adamw(param, grad, m, v, lr, beta1, beta2, eps, weightDecay, step)
      }
      g.adamw(
        param as Float32Array,
        grad as Float32Array,
        m as Float32Array,
        v as Float32Array,
        lr,
        beta1,
        beta2,
        eps,
        weightDecay,
        step
      )
    },
    sgd(param, grad, buf, lr, momentum, nesterov, weightDecay, step) {
      check.sgd(param, grad, buf)
      if (param.length === 0 || !f32(param, grad, buf)) {
        return cpu.sgd(param, grad, buf, lr, momentum, nesterov, weightDecay, step)
      }
      g.sgd(param as Float32Array, grad as Float32Array, buf as Float32Array, lr, momentum, nesterov, weightDecay, step)
    }
  }
}
