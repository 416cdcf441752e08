import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    name: "docs",
    include: ["test/**/*.test.ts"],
    // one docgen run (parsing the sources, type-checking the examples) takes 15 to 20 s
    testTimeout: 30_000,
    hookTimeout: 120_000
  }
})
