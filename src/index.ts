/**
 * continuum's public API: configuration, the run's services and layers, resume policies and the
 * planner, checkpoints, and the resume test kit.
 */
export {
  type KernelMethod,
  type OnKernelCall,
  profiledCpuKernelsLayer,
  profiledKernels
} from "./bench/profiledKernels.ts"
export { CheckpointStore } from "./checkpoint/CheckpointStore.ts"
export { processSignalsLayer } from "./cli/signals.ts"
export { ConfigError } from "./config/ConfigError.ts"
export { decodeRunConfig, defaultRunConfig, encodeRunConfig, loadRunConfig } from "./config/loadConfig.ts"
export { RunConfig } from "./config/RunConfig.ts"
export { RunSettings } from "./config/RunSettings.ts"
export { Start } from "./config/Start.ts"
export { DataLoader } from "./data/DataLoader.ts"
export { byteStream } from "./data/TokenStream.ts"
export { gpujsKernelsLayer, makeGpujsKernels } from "./kernels/gpujs/index.ts"
export { Kernels } from "./kernels/Kernels.ts"
export type { KernelsShape } from "./kernels/KernelsShape.ts"
export { cpuKernelsLayer, kernelsLayerFor } from "./kernels/layers.ts"
export { hostStorage, type TensorStorage } from "./kernels/TensorStorage.ts"
export { modelFromConfig } from "./model/fromConfig.ts"
export { Model } from "./model/ModelService.ts"
export { Optimizer } from "./optim/OptimizerService.ts"
export { decodeSchedule, lr, ResolvedSchedule, resolveSchedule, ScheduleConfig } from "./optim/schedule.ts"
export { Scheduler } from "./optim/Scheduler.ts"
export { RankFailed } from "./ranks/errors.ts"
export { PlanRejected, ResumePlan } from "./resume/plan.ts"
export { AcceptedPlan, plannedStartLayer, RunDirConflict } from "./resume/plannedStart.ts"
export { planResume } from "./resume/planner.ts"
export { decodePolicy, policyName, presets, ResumePolicy } from "./resume/policy.ts"
export { renderPlan } from "./resume/renderPlan.ts"
export { groupRejection, type RejectionGroup, renderRejection } from "./resume/renderRejection.ts"
export { NoUsableCheckpoint } from "./resume/usableCheckpoint.ts"
export { Parameters } from "./tensor/namedTensors.ts"
export type { OnProgress, Progress } from "./tensor/progress.ts"
export {
  applyChanges,
  checkExactResume,
  checkPolicyLaws,
  checkRejected,
  type ConfigChanges,
  type ExactResumeReport,
  InvalidStopPoint,
  type PolicyLaw,
  type PolicyLawReport,
  PolicyLawViolated,
  RejectionWroteFiles,
  ResumeMismatch,
  ResumeNotRejected,
  ResumeRunFailed,
  type RunBuilder,
  type RunStart
} from "./testkit/index.ts"
export { NonFiniteTraining } from "./train/errors.ts"
export type { CheckpointEvent, EvalEvent, StepEvent, TrainEvent } from "./train/events.ts"
export { composeRun, dataLayerFor, noRunLock, runLayer, type RunParts } from "./train/layers.ts"
export { RunDirLocked, RunLockError } from "./train/RunLock.ts"
export { StopSignal } from "./train/StopSignal.ts"
export { Trainer } from "./train/Trainer.ts"
