// Static-buffer reads (internal/node/reads.ts) rest on Node internals, found at run time. Where
// this Node lacks them, the Node layer reads through 'data' events: the same bytes, in a child
// Node that has them taken away. (With them, the contract suite's 64 MiB test is the check.)
// Runs the sources, or the built package under vitest.dist.config.ts.
import { assert, describe, it } from "@effect/vitest"
import * as ChildProcess from "node:child_process"
import * as Util from "node:util"

const execFile = Util.promisify(ChildProcess.execFile)

const index = new URL(
  process.env["SOCKET_UNDER_TEST"] === "dist" ? "../dist/index.js" : "../src/index.ts",
  import.meta.url
)
const child = new URL("./fixtures/reads-child.ts", import.meta.url)

describe("reads without Node's static-buffer reads", () => {
  it("copyTo and stream -> sink echo every byte through 'data' events instead", async () => {
    const { stdout } = await execFile(process.execPath, [child.pathname, index.href], { timeout: 30_000 })
    assert.deepStrictEqual(JSON.parse(stdout.trim().split("\n").at(-1) ?? ""), {
      withoutStaticReads: true,
      copyTo: true,
      stream: true
    })
  }, 40_000)
})
