import type { FloatArray } from "../../tensor/tensor.ts"
import { requireLength } from "./errors.ts"

// q, k, v, out are [B, T, H, hd]: the row of (b, t, h) starts at ((b·T + t)·H + h)·hd, and
// consecutive positions of one head are H·hd apart. probs is [B, H, T, T].

let rowScratch = new Float64Array(64)
let vecScratch = new Float64Array(64)

const ensureScratch = (T: number, hd: number): void => {
  if (rowScratch.length < T) rowScratch = new Float64Array(T)
  if (vecScratch.length < hd) vecScratch = new Float64Array(hd)
}

const checkOperands = (
  kernel: string, arrays: ReadonlyArray<readonly [string, FloatArray]>, probs: FloatArray,
  B: number, T: number, H: number, hd: number
): void => {
  const n = B * T * H * hd
  for (const [name, arr] of arrays) requireLength(kernel, name, arr.length, n)
  requireLength(kernel, "probs", probs.length, B * H * T * T)
}

export const attention = (
  q: FloatArray, k: FloatArray, v: FloatArray, probs: FloatArray, out: FloatArray,
  B: number, T: number, H: number, hd: number
): void => {
  checkOperands("attention", [["q", q], ["k", k], ["v", v], ["out", out]], probs, B, T, H, hd)
  ensureScratch(T, hd)
  const s = rowScratch
  const acc = vecScratch
  const stride = H * hd
  const scale = 1 / Math.sqrt(hd)
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const head = b * T * stride + h * hd
      for (let i = 0; i < T; i++) {
        const qi = head + i * stride
        const pRow = ((b * H + h) * T + i) * T
        // Scores against positions 0…i, with the running maximum for a stable softmax.
        let max = -Infinity
        for (let j = 0, kj = head; j <= i; j++, kj += stride) {
          let dot = 0
          for (let c = 0; c < hd; c++) dot += q[qi + c] * k[kj + c]
          const score = dot * scale
          s[j] = score
          if (score > max) max = score
        }
        let sum = 0
        for (let j = 0; j <= i; j++) {
          const e = Math.exp(s[j] - max)
          s[j] = e
          sum += e
        }
        const inv = 1 / sum
        for (let j = 0; j <= i; j++) probs[pRow + j] = s[j] * inv
        for (let j = i + 1; j < T; j++) probs[pRow + j] = 0
        // out_i = Σ_j p_ij v_j, from the stored (possibly rounded) probabilities so that the
        // backward pass differentiates exactly what the forward computed.
        acc.fill(0, 0, hd)
        for (let j = 0, vj = head; j <= i; j++, vj += stride) {
          const p = probs[pRow + j]
          for (let c = 0; c < hd; c++) acc[c] += p * v[vj + c]
        }
        for (let c = 0; c < hd; c++) out[qi + c] = acc[c]
      }
    }
  }
}

/**
 * With `dP = dOut·vᵀ` and `dS = P ⊙ (dP − rowsum(P ⊙ dP))` (softmax backward):
 * `dv = Pᵀ·dOut`, `dq = dS·k/√hd`, `dk = dSᵀ·q/√hd`, restricted to the causal triangle.
 */
export const attentionBackward = (
  q: FloatArray, k: FloatArray, v: FloatArray, probs: FloatArray, dOut: FloatArray,
  dq: FloatArray, dk: FloatArray, dv: FloatArray,
  B: number, T: number, H: number, hd: number
): void => {
  checkOperands(
    "attentionBackward",
    [["q", q], ["k", k], ["v", v], ["dOut", dOut], ["dq", dq], ["dk", dk], ["dv", dv]],
    probs, B, T, H, hd
  )
  ensureScratch(T, hd)
  const dp = rowScratch
  const dqi = vecScratch
  const n = B * T * H * hd
  dk.fill(0, 0, n)
  dv.fill(0, 0, n)
  const stride = H * hd
  const scale = 1 / Math.sqrt(hd)
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const head = b * T * stride + h * hd
      for (let i = 0; i < T; i++) {
        const qi = head + i * stride
        const pRow = ((b * H + h) * T + i) * T
        let rowDot = 0
        for (let j = 0, vj = head; j <= i; j++, vj += stride) {
          const p = probs[pRow + j]
          let dot = 0
          for (let c = 0; c < hd; c++) {
            const g = dOut[qi + c]
            dot += g * v[vj + c]
            dv[vj + c] += p * g
          }
          dp[j] = dot
          rowDot += p * dot
        }
        dqi.fill(0, 0, hd)
        for (let j = 0, kj = head; j <= i; j++, kj += stride) {
          const ds = probs[pRow + j] * (dp[j] - rowDot) * scale
          for (let c = 0; c < hd; c++) {
            dqi[c] += ds * k[kj + c]
            dk[kj + c] += ds * q[qi + c]
          }
        }
        for (let c = 0; c < hd; c++) dq[qi + c] = dqi[c]
      }
    }
  }
}
