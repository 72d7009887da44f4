/** The model sizes the step and save benchmarks run, as changes to the reference model. */
export const modelSizes = {
  /** The reference model: ≈0.13 M parameters, 1.6 MB per checkpoint. */
  default: {},
  /** Wider and deeper: ≈1.1 M parameters, 13 MB per checkpoint. */
  mid: { dim: 128, layers: 6, heads: 4, ffnDim: 352 },
  /** As wide as mid, 4 layers over twice the window (T=128): ≈0.8 M parameters. */
  "mid-t128": { dim: 128, layers: 4, heads: 4, ffnDim: 352, seqLen: 128 },
  /** For devices: d512, 8 layers of 8 heads, f=1408, T=256: ≈26 M parameters (≈50 s a step on gpujs on an H200). */
  large: { dim: 512, layers: 8, heads: 8, ffnDim: 1408, seqLen: 256 }
} as const

export type ModelSize = keyof typeof modelSizes

export const modelSizeNames = Object.keys(modelSizes) as ReadonlyArray<ModelSize>
