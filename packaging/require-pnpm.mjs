// The packages' `prepack`: only pnpm packs them right. Their `exports` point at the
// TypeScript sources the workspace runs; pnpm swaps in `publishConfig.exports` (the
// built JavaScript) as it packs, npm does not, and Node refuses to strip types
// from a package in node_modules. So a pack by any other tool stops here, saying why.
// (The tool that runs a lifecycle script names itself in npm_execpath.)
import * as Path from "node:path"

const tool = Path.basename(process.env.npm_execpath ?? "")
if (!tool.includes("pnpm")) {
  const name = process.env.npm_package_name ?? "this package"
  process.stderr.write(
    `${name}: pack and publish it with pnpm (pnpm pack, pnpm publish), not ${tool || "this tool"}: ` +
      "only pnpm applies publishConfig.exports, and without it the package would point at TypeScript sources " +
      "that Node does not run from node_modules.\n"
  )
  process.exit(1)
}
