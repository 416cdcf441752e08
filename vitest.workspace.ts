// The single list of test projects: `vitest.config.ts` reads it into `test.projects`.
export default [
  "packages/socket",
  "packages/runtime",
  "apps/server",
  "apps/client",
  "bench",
  "packaging",
  "docs"
]
