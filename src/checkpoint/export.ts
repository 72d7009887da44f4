/**
 * Model weights as a standalone safetensors file for other tools (PyTorch, transformers).
 * Narrower dtypes round to nearest even, as `tensor.half()` / `tensor.bfloat16()` do.
 */
import type { Result } from "effect"
import type { Tensor } from "../tensor/tensor.ts"
import { encodeSafetensors, type SafetensorsDType, type SafetensorsError } from "./safetensors.ts"

export type ExportDType = "f32" | "f16" | "bf16"

const storedDType: Record<ExportDType, SafetensorsDType> = { f32: "F32", f16: "F16", bf16: "BF16" }

/**
 * Encodes model weights in the given dtype. The `format: "pt"` metadata is what transformers'
 * loaders expect of a PyTorch-style file. Fails only for names or shapes the format rejects.
 */
export const exportWeights = (
  tensors: Readonly<Record<string, Tensor>>,
  dtype: ExportDType
): Result.Result<Uint8Array, SafetensorsError> =>
  encodeSafetensors(tensors, { dtype: storedDType[dtype], metadata: { format: "pt" }, file: `weights (${dtype})` })
