import { Context, Effect, Layer } from "effect"
import type { OptimizerConfig } from "../config/RunConfig.ts"
import { RunSettings } from "../config/RunSettings.ts"
import { Start } from "../config/Start.ts"
import { Parameters } from "../tensor/namedTensors.ts"
import { adamw } from "./adamw.ts"
import type { OptimizerState, UpdateRule } from "./optimizer.ts"
import { sgd } from "./sgd.ts"

export interface OptimizerShape {
  readonly rule: UpdateRule
  /** Moments and update count; mutated in place by `rule.update`. */
  readonly state: OptimizerState
  readonly config: OptimizerConfig
}

export const ruleFor = (config: OptimizerConfig): UpdateRule =>
  config.kind === "adamw"
    ? adamw({ lr: config.lr, betas: config.betas, eps: config.eps, weightDecay: config.weightDecay })
    : sgd({ lr: config.lr, momentum: config.momentum, nesterov: config.nesterov, weightDecay: config.weightDecay })

/** The update rule of a run with its state: fresh for the run's parameters, or the moments a resume plan loaded. */
export class Optimizer extends Context.Service<Optimizer, OptimizerShape>()("continuum/Optimizer") {
  static readonly layer = Layer.effect(
    Optimizer,
    Effect.gen(function*() {
      const config = yield* RunSettings
      const { params } = yield* Parameters
      const start = yield* Start
      const rule = ruleFor(config.optimizer)
      return { rule, state: start.optimizer ?? rule.init(params), config: config.optimizer }
    })
  )
}
