/**
 * Helpers that write gpu.js kernel sources.
 *
 * Kernels are source strings, never live functions: gpu.js parses `function.toString()`, and
 * transpilers (tsx/esbuild, vitest) may rename identifiers or inject `__name(...)` helpers into
 * functions, which gpu.js cannot translate. Strings pass through untouched.
 *
 * Sums over long rows are chunked (a sum of per-chunk partial sums, chunk ≈ √n): float32 rounding
 * error then grows like √n rather than n, close to what a pairwise sum gives, with loops whose
 * bounds are compile-time constants as WebGL 1 requires.
 */

/** Chunk length and chunk count for a chunked sum over `n` terms. */
export const chunking = (n: number): { readonly chunk: number; readonly chunks: number } => {
  const chunk = Math.max(1, Math.ceil(Math.sqrt(n)))
  return { chunk, chunks: Math.max(1, Math.ceil(n / chunk)) }
}

/** Constants for a chunked sum named `name` over `n` terms: `${name}`, `${name}_CH`, `${name}_NC`. */
export const sumConstants = (name: string, n: number): Record<string, number> => {
  const { chunk, chunks } = chunking(n)
  return { [name]: n, [`${name}_CH`]: chunk, [`${name}_NC`]: chunks }
}

/**
 * Kernel statements that set `result` to `Σ term` for `index` in `[0, constants.bound)` where
 * `guard` holds (default: always). `term` and `guard` are expressions in `index`. Each sum in a
 * kernel needs its own `result` name; `index` names must not clash with other locals.
 */
export const chunkedSum = (options: {
  readonly result: string
  readonly index: string
  readonly bound: string
  readonly term: string
  readonly guard?: string
}): string => {
  const { result, index, bound, term } = options
  const guard = options.guard ? ` && (${options.guard})` : ""
  const q = `${index}_q`
  const t = `${index}_t`
  const part = `${result}_part`
  return `
  let ${result} = 0;
  for (let ${q} = 0; ${q} < this.constants.${bound}_NC; ${q}++) {
    let ${part} = 0;
    for (let ${t} = 0; ${t} < this.constants.${bound}_CH; ${t}++) {
      const ${index} = ${q} * this.constants.${bound}_CH + ${t};
      if (${index} < this.constants.${bound}${guard}) {
        ${part} += ${term};
      }
    }
    ${result} += ${part};
  }`
}

/** `Math.floor(a / b)` for non-negative integers held in floats, robust to inexact GPU division. */
export const idiv = (a: string, b: string): string => `Math.floor((${a} + 0.5) / ${b})`

/**
 * Kernel statements that split the flat `index` of a row-major array into one coordinate per axis:
 * `outer` names the outermost axis, `axes` the others as `[name, extent constant]`, outermost
 * first. The quotients on the way are named after the axes they still hold (`bhi`, then `bh`).
 */
export const unflatten = (index: string, outer: string, axes: ReadonlyArray<readonly [string, string]>): string => {
  let statements = ""
  let rest = index
  for (let a = axes.length - 1; a >= 0; a--) {
    const [name, extent] = axes[a]
    const quotient = outer + axes.slice(0, a).map(([held]) => held).join("")
    const size = `this.constants.${extent}`
    statements += `
  const ${name} = ${rest} - ${idiv(rest, size)} * ${size};
  const ${quotient} = ${idiv(rest, size)};`
    rest = quotient
  }
  return statements
}

/** Wraps kernel statements into the plain function expression gpu.js expects. */
export const kernelSource = (params: ReadonlyArray<string>, body: string): string =>
  `function (${params.join(", ")}) {${body}\n}`
