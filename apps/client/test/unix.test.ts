// --unix end to end: our client to our server (apps/server) over a Unix domain socket in a
// temporary folder, both as processes.
import { assert, describe, it } from "@effect/vitest"
import { spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import type * as Summary from "../src/Summary.ts"
import { lines, run } from "./helpers.ts"

const serverMain = fileURLToPath(new URL("../../server/src/main.ts", import.meta.url))
const folder = Fs.mkdtempSync(Path.join(Os.tmpdir(), "echo-client-unix-"))
process.once("exit", () => Fs.rmSync(folder, { recursive: true, force: true }))
let sockets = 0

interface OurServer {
  readonly path: string
  readonly logs: () => ReadonlyArray<Record<string, any>>
  readonly stop: () => Promise<number | null>
}

/** Our echo server on a new socket path, once it serves there. */
const ourServer = async (): Promise<OurServer> => {
  const path = Path.join(folder, `echo-${++sockets}.sock`)
  const child = spawn(process.execPath, [serverMain, "--unix", path, "--log-format", "json"], {
    stdio: ["ignore", "ignore", "pipe"]
  })
  let stderr = ""
  const killer = setTimeout(() => child.kill("SIGKILL"), 25_000)
  const exited = new Promise<number | null>((resolve) =>
    child.on("exit", (code) => {
      clearTimeout(killer)
      resolve(code)
    })
  )
  await new Promise<void>((resolve, reject) => {
    child.stderr!.setEncoding("utf8").on("data", (data: string) => {
      stderr += data
      if (stderr.includes(`Serving on ${path}`)) resolve()
    })
    void exited.then((code) => reject(new Error(`the server exited with ${code}: ${stderr}`)))
  })
  return {
    path,
    logs: () => lines(stderr).map((line) => JSON.parse(line) as Record<string, any>),
    stop: () => {
      child.kill("SIGTERM")
      return exited
    }
  }
}

describe.concurrent("--unix against our server", () => {
  it("echo: the message over the Unix socket, exit 0", async () => {
    const server = await ourServer()
    try {
      const result = await run(["--unix", server.path, "hello over a path", "--count", "2", "--log-format", "json"])
      assert.strictEqual(result.code, 0, result.stderr)
      assert.strictEqual(result.stdout.toString(), "hello over a path\nhello over a path\n")
      const entries = lines(result.stderr).map((line) => JSON.parse(line) as Record<string, any>)
      assert.strictEqual(entries[0]!.annotations.server, server.path)
    } finally {
      assert.strictEqual(await server.stop(), 0)
    }
    const closed = server.logs().find((log) => log.message === "Connection closed")!
    assert.strictEqual(closed.annotations.bytesIn, 2 * 17)
  })

  it("--stdin: 4 MiB through our server intact, from ECHO_UNIX", async () => {
    const server = await ourServer()
    try {
      const input = randomBytes(4 * 1024 * 1024)
      const result = await run(["--stdin"], { input, env: { ECHO_UNIX: server.path } })
      assert.strictEqual(result.code, 0, result.stderr)
      assert.isTrue(result.stdout.equals(input))
    } finally {
      assert.strictEqual(await server.stop(), 0)
    }
  })

  it("bench --unix --workers 2: every echo checked", async () => {
    const server = await ourServer()
    try {
      const result = await run([
        "bench",
        "--unix",
        server.path,
        "--connections",
        "2",
        "--workers",
        "2",
        "--duration",
        "0.5",
        "--warmup",
        "0",
        "--json"
      ])
      assert.strictEqual(result.code, 0, result.stderr)
      const summary = JSON.parse(result.stdout.toString()) as Summary.Summary
      assert.deepStrictEqual(summary.errors, {})
      assert.isAbove(summary.requests, 0)
    } finally {
      assert.strictEqual(await server.stop(), 0)
    }
  })

  it("no socket at the path: FileNotFoundError, one line, exit 1", async () => {
    const path = Path.join(folder, "nobody.sock")
    const result = await run(["--unix", path, "--log-format", "pretty"])
    assert.strictEqual(result.code, 1)
    assert.deepStrictEqual(lines(result.stderr), [
      `echo-client: FileNotFoundError: [Errno 2] No such file or directory (${path})`
    ])
  })
})
