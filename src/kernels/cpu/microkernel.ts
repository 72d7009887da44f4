import type { FloatArray } from "../../tensor/tensor.ts"

/**
 * The inner kernel of gemm: one 8×8 tile of C from packed panels, `out[o + r·ld + q] (+)=
 * Σ_p ap[8p + r] · bp[bOff + 8p + q]` for p < k.
 *
 * The 64 sums live in local variables (the JIT keeps as many as it can in registers), so each
 * step of p costs 16 loads for 64 multiply-adds. Written out by hand because a loop over an
 * accumulator array would turn every multiply-add into a load and a store.
 */
export const tile8x8 = (
  ap: Float64Array,
  bp: Float64Array,
  bOff: number,
  k: number,
  out: FloatArray,
  o: number,
  ld: number,
  accumulate: boolean
): void => {
  let c00 = 0, c01 = 0, c02 = 0, c03 = 0, c04 = 0, c05 = 0, c06 = 0, c07 = 0
  let c10 = 0, c11 = 0, c12 = 0, c13 = 0, c14 = 0, c15 = 0, c16 = 0, c17 = 0
  let c20 = 0, c21 = 0, c22 = 0, c23 = 0, c24 = 0, c25 = 0, c26 = 0, c27 = 0
  let c30 = 0, c31 = 0, c32 = 0, c33 = 0, c34 = 0, c35 = 0, c36 = 0, c37 = 0
  let c40 = 0, c41 = 0, c42 = 0, c43 = 0, c44 = 0, c45 = 0, c46 = 0, c47 = 0
  let c50 = 0, c51 = 0, c52 = 0, c53 = 0, c54 = 0, c55 = 0, c56 = 0, c57 = 0
  let c60 = 0, c61 = 0, c62 = 0, c63 = 0, c64 = 0, c65 = 0, c66 = 0, c67 = 0
  let c70 = 0, c71 = 0, c72 = 0, c73 = 0, c74 = 0, c75 = 0, c76 = 0, c77 = 0
  for (let p = 0, ia = 0, ib = bOff; p < k; p++, ia += 8, ib += 8) {
    const a0 = ap[ia],
      a1 = ap[ia + 1],
      a2 = ap[ia + 2],
      a3 = ap[ia + 3],
      a4 = ap[ia + 4],
      a5 = ap[ia + 5],
      a6 = ap[ia + 6],
      a7 = ap[ia + 7]
    const b0 = bp[ib],
      b1 = bp[ib + 1],
      b2 = bp[ib + 2],
      b3 = bp[ib + 3],
      b4 = bp[ib + 4],
      b5 = bp[ib + 5],
      b6 = bp[ib + 6],
      b7 = bp[ib + 7]
    c00 += a0 * b0
    c01 += a0 * b1
    c02 += a0 * b2
    c03 += a0 * b3
    c04 += a0 * b4
    c05 += a0 * b5
    c06 += a0 * b6
    c07 += a0 * b7
    c10 += a1 * b0
    c11 += a1 * b1
    c12 += a1 * b2
    c13 += a1 * b3
    c14 += a1 * b4
    c15 += a1 * b5
    c16 += a1 * b6
    c17 += a1 * b7
    c20 += a2 * b0
    c21 += a2 * b1
    c22 += a2 * b2
    c23 += a2 * b3
    c24 += a2 * b4
    c25 += a2 * b5
    c26 += a2 * b6
    c27 += a2 * b7
    c30 += a3 * b0
    c31 += a3 * b1
    c32 += a3 * b2
    c33 += a3 * b3
    c34 += a3 * b4
    c35 += a3 * b5
    c36 += a3 * b6
    c37 += a3 * b7
    c40 += a4 * b0
    c41 += a4 * b1
    c42 += a4 * b2
    c43 += a4 * b3
    c44 += a4 * b4
    c45 += a4 * b5
    c46 += a4 * b6
    c47 += a4 * b7
    c50 += a5 * b0
    c51 += a5 * b1
    c52 += a5 * b2
    c53 += a5 * b3
    c54 += a5 * b4
    c55 += a5 * b5
    c56 += a5 * b6
    c57 += a5 * b7
    c60 += a6 * b0
    c61 += a6 * b1
    c62 += a6 * b2
    c63 += a6 * b3
    c64 += a6 * b4
    c65 += a6 * b5
    c66 += a6 * b6
    c67 += a6 * b7
    c70 += a7 * b0
    c71 += a7 * b1
    c72 += a7 * b2
    c73 += a7 * b3
    c74 += a7 * b4
    c75 += a7 * b5
    c76 += a7 * b6
    c77 += a7 * b7
  }
  if (accumulate) {
    out[o] += c00
    out[o + 1] += c01
    out[o + 2] += c02
    out[o + 3] += c03
    out[o + 4] += c04
    out[o + 5] += c05
    out[o + 6] += c06
    out[o + 7] += c07
    o += ld
    out[o] += c10
    out[o + 1] += c11
    out[o + 2] += c12
    out[o + 3] += c13
    out[o + 4] += c14
    out[o + 5] += c15
    out[o + 6] += c16
    out[o + 7] += c17
    o += ld
    out[o] += c20
    out[o + 1] += c21
    out[o + 2] += c22
    out[o + 3] += c23
    out[o + 4] += c24
    out[o + 5] += c25
    out[o + 6] += c26
    out[o + 7] += c27
    o += ld
    out[o] += c30
    out[o + 1] += c31
    out[o + 2] += c32
    out[o + 3] += c33
    out[o + 4] += c34
    out[o + 5] += c35
    out[o + 6] += c36
    out[o + 7] += c37
    o += ld
    out[o] += c40
    out[o + 1] += c41
    out[o + 2] += c42
    out[o + 3] += c43
    out[o + 4] += c44
    out[o + 5] += c45
    out[o + 6] += c46
    out[o + 7] += c47
    o += ld
    out[o] += c50
    out[o + 1] += c51
    out[o + 2] += c52
    out[o + 3] += c53
    out[o + 4] += c54
    out[o + 5] += c55
    out[o + 6] += c56
    out[o + 7] += c57
    o += ld
    out[o] += c60
    out[o + 1] += c61
    out[o + 2] += c62
    out[o + 3] += c63
    out[o + 4] += c64
    out[o + 5] += c65
    out[o + 6] += c66
    out[o + 7] += c67
    o += ld
    out[o] += c70
    out[o + 1] += c71
    out[o + 2] += c72
    out[o + 3] += c73
    out[o + 4] += c74
    out[o + 5] += c75
    out[o + 6] += c76
    out[o + 7] += c77
  } else {
    out[o] = c00
    out[o + 1] = c01
    out[o + 2] = c02
    out[o + 3] = c03
    out[o + 4] = c04
    out[o + 5] = c05
    out[o + 6] = c06
    out[o + 7] = c07
    o += ld
    out[o] = c10
    out[o + 1] = c11
    out[o + 2] = c12
    out[o + 3] = c13
    out[o + 4] = c14
    out[o + 5] = c15
    out[o + 6] = c16
    out[o + 7] = c17
    o += ld
    out[o] = c20
    out[o + 1] = c21
    out[o + 2] = c22
    out[o + 3] = c23
    out[o + 4] = c24
    out[o + 5] = c25
    out[o + 6] = c26
    out[o + 7] = c27
    o += ld
    out[o] = c30
    out[o + 1] = c31
    out[o + 2] = c32
    out[o + 3] = c33
    out[o + 4] = c34
    out[o + 5] = c35
    out[o + 6] = c36
    out[o + 7] = c37
    o += ld
    out[o] = c40
    out[o + 1] = c41
    out[o + 2] = c42
    out[o + 3] = c43
    out[o + 4] = c44
    out[o + 5] = c45
    out[o + 6] = c46
    out[o + 7] = c47
    o += ld
    out[o] = c50
    out[o + 1] = c51
    out[o + 2] = c52
    out[o + 3] = c53
    out[o + 4] = c54
    out[o + 5] = c55
    out[o + 6] = c56
    out[o + 7] = c57
    o += ld
    out[o] = c60
    out[o + 1] = c61
    out[o + 2] = c62
    out[o + 3] = c63
    out[o + 4] = c64
    out[o + 5] = c65
    out[o + 6] = c66
    out[o + 7] = c67
    o += ld
    out[o] = c70
    out[o + 1] = c71
    out[o + 2] = c72
    out[o + 3] = c73
    out[o + 4] = c74
    out[o + 5] = c75
    out[o + 6] = c76
    out[o + 7] = c77
  }
}
