import { assert, describe, it } from "@effect/vitest"
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import { afterAll, beforeAll } from "vitest"
import { buildReference, publicModules, referenceDir } from "../src/build.ts"

const readDir = async (dir: string): Promise<Map<string, string>> => {
  const names = await Fs.readdir(dir).catch(() => [])
  return new Map(
    await Promise.all(
      names.toSorted().map(async (name) => [name, await Fs.readFile(Path.join(dir, name), "utf8")] as const)
    )
  )
}

describe("API reference", () => {
  let built: Map<string, string>
  let tmp: string
  beforeAll(async () => {
    // fails here, saying which doc comment, when an export lacks a summary or `@since`, or an example
    // does not type-check
    tmp = await Fs.mkdtemp(Path.join(Os.tmpdir(), "effect-tcp-docs-"))
    await buildReference(tmp)
    built = await readDir(tmp)
  })
  afterAll(() => Fs.rm(tmp, { recursive: true, force: true }))

  it("has a page for every public module, listed in its README", async () => {
    const modules = await publicModules()
    assert.isAbove(modules.length, 0)
    for (const name of modules) {
      const page = built.get(`${name}.md`)
      assert.isDefined(page, `no page for ${name}`)
      assert.include(page, "## Overview", `${name}'s page has no overview`)
      assert.include(built.get("README.md"), `[${name}](${name}.md)`)
    }
  })

  it("files every export under a @category", () => {
    // docgen files an export with no @category under "utils"
    for (const [name, page] of built) {
      assert.notMatch(page, /^# utils$/m, `${name}: an export has no @category`)
    }
  })

  it("is committed up to date in docs/api", async () => {
    const committed = await readDir(referenceDir)
    const stale = [...new Set([...built.keys(), ...committed.keys()])]
      .filter((name) => built.get(name) !== committed.get(name))
    assert.deepStrictEqual(
      stale,
      [],
      `docs/api is out of date (${stale.join(", ")}): run \`pnpm run docs\` and commit it`
    )
  })
})
