// --unix end to end: main.ts as a process listening on a Unix domain socket in a temporary folder,
// talked to with node:net.
import { assert, describe, it } from "@effect/vitest"
import { randomBytes } from "node:crypto"
import { once } from "node:events"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import { deadline, patience, run } from "./ServerProcess.ts"

const folder = Fs.mkdtempSync(Path.join(Os.tmpdir(), "echo-server-unix-"))
process.once("exit", () => Fs.rmSync(folder, { recursive: true, force: true }))
let sockets = 0
const socketPath = () => Path.join(folder, `echo-${++sockets}.sock`)

/** Sends `sent` over the Unix socket, half-closes, and collects the echo until the server's end. */
const echoOver = async (path: string, sent: Buffer): Promise<Buffer> => {
  const socket = Net.connect({ path })
  await deadline(once(socket, "connect"), 10_000, "a connection")
  const chunks: Array<Buffer> = []
  socket.on("data", (chunk: Buffer) => chunks.push(chunk))
  const ended = new Promise<Buffer>((resolve, reject) => {
    socket.on("end", () => resolve(Buffer.concat(chunks)))
    socket.on("error", reject)
  })
  socket.end(sent)
  return deadline(ended, patience, "the end of the echo")
}

describe.concurrent("echo-server --unix", () => {
  it("listens on the path, echoes 1 MiB, and removes the socket file on SIGTERM", async (test) => {
    const path = socketPath()
    const server = run(test, ["--unix", path, "--log-format", "json"])
    const serving = await server.waitFor((log) => log.message.startsWith("Serving on "))
    assert.strictEqual(serving.message, `Serving on ${path}`)
    assert.include(serving.annotations, { family: "Unix", path })
    for (const name of ["host", "port", "reusePort", "tls"]) assert.notProperty(serving.annotations, name)
    assert.isTrue(Fs.statSync(path).isSocket())
    const sent = randomBytes(1024 * 1024)
    assert.isTrue((await echoOver(path, sent)).equals(sent))
    const closed = await server.waitFor((log) => log.message === "Connection closed")
    assert.include(closed.annotations, { reason: "eof", bytesIn: sent.length, bytesOut: sent.length })
    server.child.kill("SIGTERM")
    assert.strictEqual(await deadline(server.exit, patience, "exit"), 0)
    assert.isFalse(Fs.existsSync(path))
  })

  it("reads the path from ECHO_UNIX", async (test) => {
    const path = socketPath()
    const server = run(test, [], { ECHO_UNIX: path, ECHO_LOG_FORMAT: "json" })
    await server.waitFor((log) => log.message === `Serving on ${path}`)
    assert.strictEqual((await echoOver(path, Buffer.from("ping"))).toString(), "ping")
    server.child.kill("SIGTERM")
    assert.strictEqual(await deadline(server.exit, patience, "exit"), 0)
  })

  it("a folder that does not exist: FileNotFoundError naming the path, exit 1", async (test) => {
    const path = Path.join(folder, "missing", "echo.sock")
    const server = run(test, ["--unix", path, "--log-format", "pretty"])
    assert.strictEqual(await deadline(server.exit, patience, "exit"), 1)
    const lines = server.lines()
    assert.strictEqual(lines.length, 1, lines.join("\n"))
    assert.match(lines[0]!, /FileNotFoundError: \[Errno 2\] .*missing\/echo\.sock/)
  })

  it.for<readonly [ReadonlyArray<string>, string]>([
    [["--workers", "2"], "--workers"],
    [["--reuse-port"], "--reuse-port"]
  ])("--unix with %j: one line, exit 2, nothing bound", async ([args, named], test) => {
    const path = socketPath()
    const server = run(test, ["--unix", path, ...args])
    assert.strictEqual(await deadline(server.exit, patience, "exit"), 2)
    const lines = server.lines()
    assert.strictEqual(lines.length, 1, lines.join("\n"))
    assert.include(lines[0], named)
    assert.include(lines[0], "--unix")
    assert.isFalse(Fs.existsSync(path))
  })
})
