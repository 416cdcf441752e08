// The reliability suite on its own: `pnpm test:reliability` (RELIABILITY=full,
// the full figures, writes RELIABILITY.md) and `pnpm test:reliability:quick`
// (the figures of `pnpm test`). One file at a time, so the load of one scenario
// does not skew the figures of another.
import { fileURLToPath } from "node:url"
import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    name: "reliability",
    root: fileURLToPath(new URL("../..", import.meta.url)),
    // the HAProxy scenarios (haproxy.test.ts, also in the server's tests) are rows of RELIABILITY.md too
    include: ["test/reliability/**/*.test.ts", "test/haproxy.test.ts"],
    globalSetup: ["test/reliability/globalSetup.ts"],
    fileParallelism: false,
    testTimeout: 300_000,
    hookTimeout: 300_000
  }
})
