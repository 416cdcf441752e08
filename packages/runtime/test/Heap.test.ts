import { assert, describe, it } from "@effect/vitest"
import { spawnSync } from "node:child_process"
import { readFileSync } from "node:fs"
import * as Heap from "../src/Heap.ts"

const root = new URL("../../../", import.meta.url)
const script = (pkg: string, name: string): string =>
  JSON.parse(readFileSync(new URL(`${pkg}package.json`, root), "utf8")).scripts[name]

// The flags are V8's, not Node's: a V8 upgrade may rename them, and V8 only warns about an unknown flag.
describe("Heap", () => {
  it("every flag is one this Node's V8 knows", () => {
    const options = spawnSync(process.execPath, ["--v8-options"], { encoding: "utf8" }).stdout
    for (const flag of Heap.nodeFlags) {
      const name = flag.replace(/^--/, "").replace(/=.*$/, "")
      assert.include(options, `--${name} `, `${flag} is not a V8 option of ${process.version}`)
    }
  })

  it("tuneForSockets takes the runtime flags, without a warning", () => {
    const run = spawnSync(process.execPath, [
      "--input-type=module",
      "-e",
      `import * as Heap from ${JSON.stringify(new URL("../src/Heap.ts", import.meta.url).href)}; Heap.tuneForSockets()`
    ], { encoding: "utf8" })
    assert.strictEqual(run.status, 0, run.stderr)
    assert.strictEqual(run.stderr, "")
  })

  it("the start scripts pass every flag", () => {
    const scripts = [["", "start"], ["", "client"], ["apps/server/", "start"], ["apps/client/", "start"]] as const
    for (const [pkg, name] of scripts) {
      const command = script(pkg, name)
      for (const flag of Heap.nodeFlags) assert.include(command, ` ${flag} `, `${pkg}package.json ${name}`)
    }
  })

  // the installed echo-server and echo-client commands are dist/main.js, started by this first line
  it("the programs' shebangs pass exactly these flags", () => {
    for (const main of ["apps/server/src/main.ts", "apps/client/src/main.ts"]) {
      const first = readFileSync(new URL(main, root), "utf8").split("\n", 1)[0]
      assert.strictEqual(first, `#!/usr/bin/env -S node ${Heap.nodeFlags.join(" ")}`, main)
    }
  })
})
