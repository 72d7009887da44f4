/** The kernel families `bench kernels` times (no imports: the CLI lists them in its help). */
export type KernelFamily =
  | "matmul"
  | "add"
  | "silu"
  | "softmax"
  | "rmsnorm"
  | "rmsnormBackward"
  | "rope"
  | "attention"
  | "attentionBackward"
  | "crossEntropy"
  | "adamw"

export const kernelFamilies: ReadonlyArray<KernelFamily> = [
  "matmul",
  "add",
  "silu",
  "softmax",
  "rmsnorm",
  "rmsnormBackward",
  "rope",
  "attention",
  "attentionBackward",
  "crossEntropy",
  "adamw"
]
