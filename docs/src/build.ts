/**
 * Builds the API reference of `@effect-tcp/socket` (Markdown, in `docs/api/`) from the
 * `@since`/`@category` doc comments of `packages/socket/src`, with `@effect/docgen`.
 *
 * docgen checks that every export has a summary and `@since`, and type-checks every `@example`
 * (with this package's TypeScript 5.9: docgen and ts-morph need the compiler API, which the
 * workspace's TypeScript 7 has not). It expects to run in a package root with `src/`, so each
 * build stages one in a fresh `.build-*` folder here: a `package.json`, a `docgen.json` and a link
 * to the sources. Examples are written under it, so they resolve `effect` and `@effect-tcp/socket`
 * from this package's `node_modules`, as a user's code would.
 *
 * Usage: `pnpm run docs` (`pnpm docs` is pnpm's own command that opens a package's homepage), which
 * writes `docs/api/`; `node docs/src/build.ts DIR` writes DIR; or `buildReference(dir)`.
 */
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs/promises"
import { createRequire } from "node:module"
import * as Path from "node:path"

const docsRoot = Path.resolve(import.meta.dirname, "..")
const sourceDir = Path.resolve(docsRoot, "../packages/socket/src")

/** Where `pnpm run docs` writes the reference, committed and linked from the README. */
export const referenceDir = Path.join(docsRoot, "api")

/** The public modules: what `packages/socket/src/index.ts` re-exports as namespaces. */
export const publicModules = async (): Promise<ReadonlyArray<string>> => {
  const index = await Fs.readFile(Path.join(sourceDir, "index.ts"), "utf8")
  return [...index.matchAll(/^export \* as (\w+) from "\.\/(\w+)\.ts"$/gm)].map((match) => match[1]!)
}

const require = createRequire(import.meta.url)
const packageDir = (name: string) => Path.dirname(require.resolve(`${name}/package.json`))

// The compiler options of `tsconfig.base.json` that decide how the sources and examples type-check.
const compilerOptions = {
  target: "es2024",
  module: "nodenext",
  moduleResolution: "nodenext",
  lib: ["es2024"],
  types: ["node"],
  strict: true,
  exactOptionalPropertyTypes: true,
  verbatimModuleSyntax: true,
  erasableSyntaxOnly: true,
  allowImportingTsExtensions: true,
  isolatedModules: true,
  skipLibCheck: true,
  noEmit: true
}

const docgenConfig = {
  srcDir: "src",
  outDir: "out",
  // `index.ts` only re-exports the modules; the reference's README lists them instead.
  exclude: ["src/internal/**/*.ts", "src/index.ts"],
  // Relative to the pages' final place, `docs/api/`.
  srcLink: "../../packages/socket/src/",
  enforceDescriptions: true,
  enforceVersion: true,
  parseCompilerOptions: compilerOptions,
  // Examples import the package by name, as users do; it means the sources, whatever `exports` says.
  examplesCompilerOptions: {
    ...compilerOptions,
    paths: {
      "@effect-tcp/socket": [Path.join(sourceDir, "index.ts")],
      "@effect-tcp/socket/*": [Path.join(sourceDir, "*.ts")]
    }
  }
}

const run = (command: string, args: ReadonlyArray<string>, cwd: string) =>
  new Promise<void>((resolve, reject) => {
    const child = ChildProcess.spawn(command, args, {
      cwd,
      // docgen runs `tsc` (a `#!/usr/bin/env node` script): on the Node running this build.
      env: { ...process.env, PATH: `${Path.dirname(process.execPath)}${Path.delimiter}${process.env["PATH"] ?? ""}` },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let output = ""
    child.stdout.on("data", (chunk: Buffer) => output += chunk.toString())
    child.stderr.on("data", (chunk: Buffer) => output += chunk.toString())
    child.on("error", reject)
    child.on("close", (code) => code === 0 ? resolve() : reject(new Error(`docgen failed (exit ${code}):\n${output}`)))
  })

/** docgen's page, made for GitHub: no Jekyll front matter, no line anchors that every code edit would move. */
const toGitHubPage = (name: string, page: string) =>
  `# ${name}\n\n[API reference](README.md) of \`@effect-tcp/socket\`: \`import { ${name} } from "@effect-tcp/socket"\`\n\n`
  + page
    .replace(/^---\n[\s\S]*?\n---\n+/, "")
    .replace(/^## \w+\.ts overview$/m, "## Overview")
    .replace(/(\]\(\.\.\/\.\.\/packages\/socket\/src\/\w+\.ts)#L\d+\)/g, "$1)")

/** The first paragraph of a page's overview, on one line. */
const summary = (page: string) => {
  const overview = page.split(/^## Overview\n\n/m)[1] ?? ""
  return overview.split("\n\n")[0]!.replace(/\s*\n\s*/g, " ").trim()
}

const readme = (pages: ReadonlyArray<readonly [name: string, page: string]>) =>
  [
    "# `@effect-tcp/socket` API reference",
    "",
    "Generated from the doc comments in [`packages/socket/src`](../../packages/socket/src) by `pnpm run docs`",
    "([@effect/docgen](https://www.npmjs.com/package/@effect/docgen), which also type-checks every example);",
    "do not edit these files by hand. Each module is a namespace of the package:",
    "`import { Tcp, Connection } from \"@effect-tcp/socket\"`.",
    "",
    "| Module | What it is |",
    "| ------ | ---------- |",
    ...pages.map(([name, page]) => `| [${name}](${name}.md) | ${summary(page).replaceAll("|", "\\|")} |`),
    ""
  ].join("\n")

/**
 * Writes the reference into `outDir` (replacing what is there): one page per public module and a
 * README listing them. Fails, saying why, when a doc comment lacks a summary or `@since`, or an
 * `@example` does not type-check.
 */
export const buildReference = async (outDir: string = referenceDir): Promise<void> => {
  const stage = await Fs.mkdtemp(Path.join(docsRoot, ".build-"))
  const sourceLink = Path.join(stage, "src")
  try {
    await Fs.writeFile(
      Path.join(stage, "package.json"),
      JSON.stringify({ name: "@effect-tcp/socket", type: "module", homepage: "" })
    )
    const tsc = Path.join(packageDir("typescript"), "bin", "tsc")
    await Fs.writeFile(Path.join(stage, "docgen.json"), JSON.stringify({ ...docgenConfig, tscExecutable: tsc }))
    await Fs.symlink(sourceDir, sourceLink, "junction")
    const docgen = Path.join(packageDir("@effect/docgen"), "dist", "bin.js")
    await run(process.execPath, [docgen], stage)

    const pages: Array<readonly [string, string]> = []
    for (const name of await publicModules()) {
      const page = await Fs.readFile(Path.join(stage, "out", "modules", `${name}.ts.md`), "utf8")
      pages.push([name, toGitHubPage(name, page)])
    }
    await Fs.rm(outDir, { recursive: true, force: true })
    await Fs.mkdir(outDir, { recursive: true })
    await Fs.writeFile(Path.join(outDir, "README.md"), readme(pages))
    for (const [name, page] of pages) await Fs.writeFile(Path.join(outDir, `${name}.md`), page)
  } finally {
    // the link first, so that nothing can remove what it points to
    await Fs.unlink(sourceLink).catch(() => undefined)
    await Fs.rm(stage, { recursive: true, force: true })
  }
}

if (import.meta.main) {
  const outDir = process.argv[2] === undefined ? referenceDir : Path.resolve(process.argv[2])
  await buildReference(outDir)
  process.stdout.write(`API reference written to ${Path.relative(process.cwd(), outDir) || "."}\n`)
}
