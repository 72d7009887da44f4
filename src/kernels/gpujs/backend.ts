/**
 * The gpujs `KernelsShape`: gpu.js kernels for the heavy families, the cpu backend for the rest.
 *
 * On the device (float32 arrays): matmul (all transpose variants, accumulate), add, mul, scale,
 * addInPlace, silu, siluBackward, softmax, rmsnorm, rmsnormBackward, rope, attention,
 * attentionBackward, crossEntropy, adamw, sgd; in headless GL, where tensors stay on the device,
 * also embedding, embeddingBackward and sumSquares (summed in float32, one value read back). In the
 * webasm and cpu modes, which have no device to stay on, those three are the cpu backend's (a
 * gather, an ordered scatter-add and a float64 sum gain nothing from a gpu.js kernel there).
 * Delegated to the cpu backend: every call with a Float64Array operand (gradient checks need double
 * precision, which WebGL does not have), and calls with an empty output (gpu.js cannot create a
 * zero-sized kernel); operands living on the device are brought back for them (hostDelegate.ts).
 * Every call is checked first with the cpu backend's checks (checks.ts), so both backends reject
 * the same calls with the same error.
 *
 * Tensors allocated from `storage` stay on the device between calls in headless GL (residency.ts):
 * a step uploads its token ids and reads back its loss and norms, nothing else.
 */
import type { FloatArray } from "../../tensor/tensor.ts"
import * as check from "../checks.ts"
import type { KernelsShape } from "../KernelsShape.ts"
import * as att from "./attention.ts"
import { crossEntropy } from "./crossEntropy.ts"
import type { Device } from "./device.ts"
import * as ew from "./elementwise.ts"
import { embedding, embeddingBackward } from "./embedding.ts"
import { onHost } from "./hostDelegate.ts"
import { makeIntOperands } from "./intOperands.ts"
import { matmul } from "./matmul.ts"
import { adamw, sgd } from "./optimizers.ts"
import { sumSquares } from "./reduce.ts"
import { makeGpujsStorage } from "./residency.ts"
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

/** Families that run on the cpu backend except in headless GL (and always for float64 or an empty shape). */
export const delegatedKernelNames = ["embedding", "embeddingBackward", "sumSquares"] as const

const f32 = (...xs: ReadonlyArray<FloatArray>): boolean => xs.every((x) => x instanceof Float32Array)

/** Builds the gpujs kernels over `dev`, with `cpu` as the delegate. `mode` reports what runs. */
export const makeBackend = (dev: Device, cpuKernels: KernelsShape): KernelsShape => {
  const store = makeGpujsStorage(dev)
  const cpu = onHost(cpuKernels, store)
  const ints = makeIntOperands(dev)
  const g = {
    matmul: matmul(dev, store),
    add: ew.add(dev, store),
    mul: ew.mul(dev, store),
    scale: ew.scale(dev, store),
    addInPlace: ew.addInPlace(dev, store),
    silu: ew.silu(dev, store),
    siluBackward: ew.siluBackward(dev, store),
    softmax: softmax(dev, store),
    rmsnorm: rmsnorm(dev, store),
    rmsnormBackward: rmsnormBackward(dev, store),
    rope: rope(dev, store),
    attention: att.attention(dev, store),
    attentionBackward: att.attentionBackward(dev, store),
    crossEntropy: crossEntropy(dev, store, ints),
    embedding: embedding(dev, store, ints),
    embeddingBackward: embeddingBackward(dev, store, ints),
    sumSquares: sumSquares(dev, store),
    adamw: adamw(dev, store),
    sgd: sgd(dev, store)
  }
  return {
    backend: "gpujs",
    // Tensors allocated here stay on the device between kernels (headless GL; see residency.ts).
    storage: store,
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
    embedding(table, ids, out, dim) {
      check.embedding(table, ids, out, dim)
      if (out.length === 0 || !dev.resident || !f32(table, out)) return cpu.embedding(table, ids, out, dim)
      g.embedding(table as Float32Array, ids, out as Float32Array, dim)
    },
    embeddingBackward(dOut, ids, dTable, dim) {
      check.embeddingBackward(dOut, ids, dTable, dim)
      if (dTable.length === 0 || ids.length === 0 || !dev.resident || !f32(dOut, dTable)) {
        return cpu.embeddingBackward(dOut, ids, dTable, dim)
      }
      g.embeddingBackward(dOut as Float32Array, ids, dTable as Float32Array, dim)
    },
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
    sumSquares: (x) => x.length === 0 || !dev.resident || !f32(x) ? cpu.sumSquares(x) : g.sumSquares(x as Float32Array),
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
