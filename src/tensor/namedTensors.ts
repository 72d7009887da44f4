import { Context } from "effect"
import type { Tensor } from "./tensor.ts"

/** Tensors by name; insertion order is the canonical order (a model's parameter order). */
export type NamedTensors = Map<string, Tensor>

export interface ParametersShape {
  /** The live parameters; updated in place. */
  readonly params: NamedTensors
}

/**
 * The trained parameters of a run as named tensors. The model layer provides them beside `Model`;
 * the optimizer reads them here, so that it never depends on the model.
 */
export class Parameters extends Context.Service<Parameters, ParametersShape>()("continuum/Parameters") {}
