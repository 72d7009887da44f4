/**
 * Lint and format: Effect's dprint settings (as in Effect's own repository) for every source file,
 * and the rule that only cli/ touches the terminal or ends the process.
 *
 * The parser is Babel's, with its TypeScript syntax plugin: typescript-eslint's parser needs the
 * JavaScript compiler API of TypeScript ≤ 6.0, which TypeScript 7 (the native `tsc`) no longer
 * ships. Formatting needs only the syntax tree, which Babel gives without type information.
 */
import babelParser from "@babel/eslint-parser"
import * as effectEslint from "@effect/eslint-plugin"

/** `process` members that belong to the terminal and the process's end: only cli/ uses them. */
const terminal = ["exit", "exitCode", "stdin", "stdout", "stderr"].map((property) => ({
  object: "process",
  property,
  message: `process.${property} belongs to cli/: below it, return values or typed errors and let the CLI decide.`
}))

export default [
  {
    ignores: ["**/node_modules/", "dist/", "runs/", ".bench/", ".scratch/", "tmp/", "**/*.generated.ts"]
  },
  ...effectEslint.configs.dprint,
  {
    files: ["**/*.{ts,mjs,cjs,js}"],
    languageOptions: {
      parser: babelParser,
      parserOptions: {
        requireConfigFile: false,
        babelOptions: { babelrc: false, configFile: false, parserOpts: { plugins: ["typescript"] } }
      }
    },
    rules: {
      "@effect/dprint": ["error", {
        config: {
          indentWidth: 2,
          lineWidth: 120,
          semiColons: "asi",
          quoteStyle: "alwaysDouble",
          trailingCommas: "never",
          operatorPosition: "maintain",
          "arrowFunction.useParentheses": "force"
        }
      }]
    }
  },
  {
    files: ["src/**"],
    ignores: ["src/cli/**"],
    rules: {
      "no-restricted-properties": ["error", ...terminal],
      "no-console": "error"
    }
  }
]
