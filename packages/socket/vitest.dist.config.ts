// The same tests against the built package: every import of the sources (`../src/X.ts`, `@effect-tcp/socket`)
// resolves to what `tsc -b tsconfig.build.json` wrote to dist/, the JavaScript the tarball ships. Build first.
// A project of `pnpm test` on Node 24; the packaging test runs it on Node 22.
import { fileURLToPath } from "node:url"
import { defineConfig } from "vitest/config"

const here = fileURLToPath(new URL(".", import.meta.url))
const dist = `${here}dist`

export default defineConfig({
  root: here,
  resolve: {
    alias: [
      { find: /^\.\.\/src\/(.+)\.ts$/, replacement: `${dist}/$1.js` },
      { find: /^@effect-tcp\/socket$/, replacement: `${dist}/index.js` },
      { find: /^@effect-tcp\/socket\/(.+)$/, replacement: `${dist}/$1.js` }
    ]
  },
  test: {
    name: "socket (dist)",
    include: ["test/**/*.test.ts"],
    // Reads the README and the example files as text: nothing in it touches the build.
    exclude: ["test/readme.test.ts"],
    // Tests that start a child Node point it at dist/ too.
    env: { SOCKET_UNDER_TEST: "dist" },
    reporters: ["default", "../../scripts/count-reporter.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000
  }
})
