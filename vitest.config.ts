import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // The tests run the sources: bin/continuum in a child process too, even where dist/ was built.
    env: { CONTINUUM_SOURCES: "1" }
  }
})
