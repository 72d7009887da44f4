/**
 * The arrows between the parts of src/ (docs/design.md, "Layout"): `npm run deps` fails with the
 * name of every rule an import breaks.
 *
 * TypeScript 7 has no JavaScript compiler API for dependency-cruiser to parse with, so it parses
 * with swc (`options.parser`); type-only imports count as arrows like any other.
 */

/** The parts, lowest first: a module may import from its own layer and the layers below it. */
const layers = [
  ["tensor", "config"],
  ["kernels"],
  ["autograd", "model"],
  ["optim", "data"],
  ["ranks"],
  ["checkpoint"],
  ["resume"],
  ["train"],
  ["testkit"],
  ["report", "demo", "inspect", "sample", "bench"],
  // index.ts is the package's public entry: it re-exports from every part, the CLI's signal layer included.
  ["cli", "index.ts"]
]

const part = (name) => name.endsWith(".ts") ? `^src/${name.replace(".", "\\.")}$` : `^src/${name}/`
const anyOf = (names) => names.map(part).join("|")

/** One rule per layer, named after it, forbidding every import that points up. */
const layerRules = layers.slice(0, -1).map((layer, i) => ({
  name: `layer-order-${layer.map((p) => p.replace(".ts", "")).join("-")}`,
  comment: `${layer.join(" ")} may import only from ${layers.slice(0, i + 1).flat().join(" ")}`,
  severity: "error",
  from: { path: anyOf(layer) },
  to: { path: anyOf(layers.slice(i + 1).flat()) }
}))

/** The services declared in the layers below kernels/ (kernels may import those layers' data types). */
const lowerServices = "^src/config/(RunSettings|Start)\\.ts$"

const above = (names) => `^src/(${names.join("|")})/`

module.exports = {
  forbidden: [
    {
      name: "no-circular",
      comment: "Import cycles: every part must be readable from the bottom up.",
      severity: "error",
      from: {},
      to: { circular: true }
    },
    {
      name: "kernels-know-no-model",
      comment:
        "Kernels are plain functions over typed arrays: no model, tape, optimizer, data, checkpoint, loop or CLI.",
      severity: "error",
      from: { path: "^src/kernels/" },
      to: {
        path: above([
          "autograd",
          "model",
          "optim",
          "data",
          "checkpoint",
          "resume",
          "train",
          "testkit",
          "report",
          "demo",
          "inspect",
          "sample",
          "bench",
          "cli"
        ])
      }
    },
    {
      name: "kernels-know-no-effect-service",
      comment:
        "Only the Kernels service, its layers and the gpujs backend's scoped resources (the GPU, the X display, " +
        "the mode probe) use Effect; the kernel math does not (cpu/errors.ts declares the KernelArgumentError class " +
        "the kernels throw).",
      severity: "error",
      from: {
        path: "^src/kernels/(cpu|gpujs)/",
        pathNot: "^src/kernels/(cpu/errors|gpujs/(index|display|modes))\\.ts$"
      },
      to: { path: "(^|/)node_modules/effect/" }
    },
    {
      name: "kernels-use-no-service",
      comment: "Kernels depend on no Effect service of the lower layers either.",
      severity: "error",
      from: { path: "^src/kernels/" },
      to: { path: lowerServices }
    },
    {
      name: "model-knows-no-checkpoint-format",
      comment: "The model owns named tensors; how they are stored is the checkpoint store's business.",
      severity: "error",
      from: { path: "^src/model/" },
      to: { path: "^src/checkpoint/" }
    },
    {
      name: "model-knows-no-training-loop",
      comment: "The model is driven by the loop, never the other way round.",
      severity: "error",
      from: { path: "^src/model/" },
      to: { path: above(["resume", "train", "testkit", "cli"]) }
    },
    {
      name: "checkpoint-knows-no-training-loop",
      comment: "The checkpoint store writes and reads what it is given; it knows no trainer, planner or CLI.",
      severity: "error",
      from: { path: "^src/checkpoint/" },
      to: { path: above(["resume", "train", "testkit", "cli"]) }
    },
    {
      name: "planner-knows-no-trainer-or-cli",
      comment: "The resume planner is a pure function of policy, manifest and configuration.",
      severity: "error",
      from: { path: "^src/resume/" },
      to: { path: above(["train", "testkit", "report", "demo", "inspect", "sample", "bench", "cli"]) }
    },
    {
      name: "optimizers-see-named-tensors-only",
      comment: "Optimizers update named tensors; they know no model.",
      severity: "error",
      from: { path: "^src/optim/" },
      to: { path: "^src/model/" }
    },
    {
      name: "data-knows-no-model",
      comment: "Data sources and the loader produce token batches for any model.",
      severity: "error",
      from: { path: "^src/data/" },
      to: { path: "^src/model/" }
    },
    {
      name: "no-terminal-below-cli",
      comment: "Only cli/ talks to the terminal (process.exit and the standard streams: see eslint.config.mjs).",
      severity: "error",
      from: { path: "^src/", pathNot: "^src/cli/" },
      to: { dependencyTypes: ["core"], path: "^(node:)?(readline|tty)(/|$)" }
    },
    ...layerRules
  ],
  options: {
    parser: "swc",
    doNotFollow: { path: "(^|/)node_modules/" },
    moduleSystems: ["es6", "cjs"],
    enhancedResolveOptions: {
      exportsFields: ["exports"],
      conditionNames: ["import", "require", "node", "default"],
      extensions: [".ts", ".mjs", ".js"]
    },
    reporterOptions: {
      text: { highlightFocused: true }
    }
  }
}
