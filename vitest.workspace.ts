// The single list of test projects: `vitest.config.ts` reads it into `test.projects`.
export default [
  "packages/socket",
  // the same tests against the built package (dist/), as the tarball ships it; `pnpm build` first
  "packages/socket/vitest.dist.config.ts",
  "packages/runtime",
  "apps/server",
  "apps/client",
  "bench",
  "packaging",
  "docs"
]
