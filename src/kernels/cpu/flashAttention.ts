import type { FloatArray } from "../../tensor/tensor.ts"

/*
 * Causal attention in O(T) memory, in TypeScript (any float type; the float32 fallback of the
 * WebAssembly kernel in wasm/vector.wat, for shapes it does not take). Forward: each query row
 * runs an online softmax over its keys in tiles of KEY_TILE — a running max m, a running sum l
 * and an unnormalised output, rescaled by exp(m_old − m_new) when the max grows — and saves
 * only the output and the row's log-sum-exp `lse = m + log(l)` ([B, H, T]). Backward
 * recomputes each probability as exp(s·scale − lse) from q, k and the saved lse, with
 * `D_i = rowsum(dO_i ⊙ O_i)` standing in for the row sum of the stored-probability backward:
 * `dS = P ⊙ (dP − D)·scale`, `dv += Pᵀ·dO`, `dq += dS·k`, `dk += dSᵀ·q`.
 * Layout as everywhere: q, k, v, out are [B, T, H, hd]; head h of batch b starts at
 * (b·T·H + h)·hd with row stride H·hd.
 */

/** Keys per tile of the online softmax. */
const KEY_TILE = 16

/** Per-instance scratch: float64 accumulators, grown to the largest head seen. */
interface Scratch {
  /** The running output of one row (hd). */
  acc: Float64Array
  /** The scores of one key tile. */
  tile: Float64Array
  /** dk and dv of one head (T·hd each). */
  dk: Float64Array
  dv: Float64Array
}

export interface FlashAttention {
  /** Writes out and lse ([B, H, T]); arguments already checked. */
  forward(
    q: FloatArray,
    k: FloatArray,
    v: FloatArray,
    lse: FloatArray,
    out: FloatArray,
    B: number,
    T: number,
    H: number,
    hd: number
  ): void
  /** Overwrites dq, dk, dv from the saved out and lse; arguments already checked. */
  backward(
    q: FloatArray,
    k: FloatArray,
    v: FloatArray,
    out: FloatArray,
    lse: FloatArray,
    dOut: FloatArray,
    dq: FloatArray,
    dk: FloatArray,
    dv: FloatArray,
    B: number,
    T: number,
    H: number,
    hd: number
  ): void
}

const dot = (a: FloatArray, ao: number, b: FloatArray, bo: number, n: number): number => {
  let s = 0
  for (let d = 0; d < n; d++) s += a[ao + d] * b[bo + d]
  return s
}

/** A TypeScript flash-attention instance with its own scratch. */
export const makeFlashAttention = (): FlashAttention => {
  const s: Scratch = {
    acc: new Float64Array(0),
    tile: new Float64Array(KEY_TILE),
    dk: new Float64Array(0),
    dv: new Float64Array(0)
  }
  return {
    forward: (q, k, v, lse, out, B, T, H, hd) => {
      if (s.acc.length < hd) s.acc = new Float64Array(hd)
      const { acc, tile } = s
      const stride = H * hd
      const scale = 1 / Math.sqrt(hd)
      for (let b = 0; b < B; b++) {
        for (let h = 0; h < H; h++) {
          const head = b * T * stride + h * hd
          for (let i = 0; i < T; i++) {
            const qi = head + i * stride
            let m = -Infinity
            let l = 0
            acc.fill(0, 0, hd)
            for (let j0 = 0; j0 <= i; j0 += KEY_TILE) {
              const j1 = Math.min(i + 1, j0 + KEY_TILE)
              let tileMax = -Infinity
              for (let j = j0; j < j1; j++) {
                const x = dot(q, qi, k, head + j * stride, hd) * scale
                tile[j - j0] = x
                if (x > tileMax) tileMax = x
              }
              if (tileMax > m) {
                // The max grew: what was summed so far is rescaled to the new one.
                const alpha = Math.exp(m - tileMax)
                l *= alpha
                for (let d = 0; d < hd; d++) acc[d] *= alpha
                m = tileMax
              }
              for (let j = j0; j < j1; j++) {
                const p = Math.exp(tile[j - j0] - m)
                l += p
                const vj = head + j * stride
                for (let d = 0; d < hd; d++) acc[d] += p * v[vj + d]
              }
            }
            const inv = 1 / l
            for (let d = 0; d < hd; d++) out[qi + d] = acc[d] * inv
            lse[(b * H + h) * T + i] = m + Math.log(l)
          }
        }
      }
    },
    backward: (q, k, v, out, lse, dOut, dq, dk, dv, B, T, H, hd) => {
      if (s.dk.length < T * hd) {
        s.dk = new Float64Array(T * hd)
        s.dv = new Float64Array(T * hd)
      }
      if (s.acc.length < hd) s.acc = new Float64Array(hd)
      const { acc, dk: dkAcc, dv: dvAcc } = s
      const stride = H * hd
      const scale = 1 / Math.sqrt(hd)
      for (let b = 0; b < B; b++) {
        for (let h = 0; h < H; h++) {
          const head = b * T * stride + h * hd
          dkAcc.fill(0, 0, T * hd)
          dvAcc.fill(0, 0, T * hd)
          for (let i = 0; i < T; i++) {
            const qi = head + i * stride
            const rowLse = lse[(b * H + h) * T + i]
            const D = dot(dOut, qi, out, qi, hd)
            acc.fill(0, 0, hd)
            for (let j = 0; j <= i; j++) {
              const kj = head + j * stride
              const p = Math.exp(dot(q, qi, k, kj, hd) * scale - rowLse)
              const dp = dot(dOut, qi, v, kj, hd)
              const ds = p * (dp - D) * scale
              const jo = j * hd
              for (let d = 0; d < hd; d++) {
                dvAcc[jo + d] += p * dOut[qi + d]
                dkAcc[jo + d] += ds * q[qi + d]
                acc[d] += ds * k[kj + d]
              }
            }
            for (let d = 0; d < hd; d++) dq[qi + d] = acc[d]
          }
          for (let j = 0; j < T; j++) {
            const kj = head + j * stride
            for (let d = 0; d < hd; d++) {
              dk[kj + d] = dkAcc[j * hd + d]
              dv[kj + d] = dvAcc[j * hd + d]
            }
          }
        }
      }
    }
  }
}
