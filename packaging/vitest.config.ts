import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    name: "packaging",
    include: ["test/**/*.test.ts"],
    // packing, npm installs from the registry, and programs on two Nodes
    testTimeout: 120_000,
    hookTimeout: 600_000
  }
})
