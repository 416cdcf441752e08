// Socket options through the FFI (internal/sockopt.ts) when koffi is not there, or setsockopt fails: each
// case in a child Node whose module resolution hides or breaks koffi (fixtures/koffi-hook.ts), on the Node
// layer. Runs the sources, or the built package under vitest.dist.config.ts.
import { assert, describe, it } from "@effect/vitest"
import * as ChildProcess from "node:child_process"
import { createRequire } from "node:module"
import * as Os from "node:os"
import * as Util from "node:util"

const execFile = Util.promisify(ChildProcess.execFile)
const errno = Os.constants.errno

const index = new URL(
  process.env["SOCKET_UNDER_TEST"] === "dist" ? "../dist/index.js" : "../src/index.ts",
  import.meta.url
)
const hook = new URL("./fixtures/koffi-hook.ts", import.meta.url)
const child = new URL("./fixtures/sockopt-child.ts", import.meta.url)

interface Failure {
  readonly tag: string
  readonly code: string
  readonly errno: number
  readonly syscall: string
  readonly message: string
}

interface Seen {
  readonly echo: string
  readonly options: string
  readonly connect: Failure | "succeeded"
  readonly listen: Failure | "succeeded"
  readonly accept: Failure | "succeeded"
  readonly accepted: number
  readonly keepAliveIdle: Failure | "succeeded"
  readonly keepAliveCount: Failure | "succeeded"
  readonly userTimeout: Failure | "succeeded"
}

const run = async (mode: "absent" | "failing"): Promise<Seen> => {
  const { stdout } = await execFile(process.execPath, ["--import", hook.href, child.pathname, index.href], {
    env: { ...process.env, KOFFI_HOOK: mode, REAL_KOFFI: createRequire(import.meta.url).resolve("koffi") },
    timeout: 20_000
  })
  // the last line: the echo server's handler may log the reset a failed connect leaves before it
  return JSON.parse(stdout.trim().split("\n").at(-1) ?? "") as Seen
}

const failed = (outcome: Failure | "succeeded"): Failure => {
  if (outcome === "succeeded") assert.fail("expected a failure")
  return outcome
}

describe("socket options without the FFI (koffi not installed)", () => {
  it("the Node layer still echoes, reads options as unavailable, and refuses what needs setsockopt with ENOTSUP", async () => {
    const seen = await run("absent")
    assert.strictEqual(seen.echo, "ping")
    assert.strictEqual(
      seen.options,
      "SO_REUSEADDR=unavailable SO_REUSEPORT=unavailable SO_RCVBUF=unavailable SO_SNDBUF=unavailable "
        + "TCP_NODELAY=unavailable SO_KEEPALIVE=unavailable TCP_KEEPIDLE=unavailable TCP_KEEPINTVL=unavailable "
        + "TCP_KEEPCNT=unavailable TCP_USER_TIMEOUT=unavailable"
    )
    const connect = failed(seen.connect)
    assert.deepInclude(connect, { tag: "OSError", code: "ENOTSUP", errno: errno.ENOTSUP, syscall: "connect" })
    assert.match(
      connect.message,
      /^\[Errno \d+\] Operation not supported( on socket)?: receiveBufferSize needs setsockopt through the FFI package koffi, which did not load: Cannot find module 'koffi' \(127\.0\.0\.1:\d+\)$/
    )
    const listen = failed(seen.listen)
    assert.deepInclude(listen, { tag: "OSError", code: "ENOTSUP", errno: errno.ENOTSUP, syscall: "listen" })
    assert.include(listen.message, "sendBufferSize needs setsockopt through the FFI package koffi, which did not load")
    assert.deepInclude(failed(seen.accept), { code: "ENOTSUP", syscall: "listen" })
    // keepalive's idle time needs no FFI (Node sets it); its count and TCP_USER_TIMEOUT do
    assert.strictEqual(seen.keepAliveIdle, "succeeded")
    const keepAliveCount = failed(seen.keepAliveCount)
    assert.deepInclude(keepAliveCount, { tag: "OSError", code: "ENOTSUP", syscall: "connect" })
    assert.include(keepAliveCount.message, "keepAlive.count needs setsockopt through the FFI package koffi")
    const userTimeout = failed(seen.userTimeout)
    assert.deepInclude(userTimeout, { tag: "OSError", code: "ENOTSUP", syscall: "listen" })
    assert.include(userTimeout.message, "userTimeout needs")
    // the refused connects never reached the server: only the echo's connection and keepAliveIdle's were accepted
    assert.strictEqual(seen.accepted, 2)
  })
})

describe("socket options when setsockopt fails", () => {
  it("connect and accept fail with the errno setsockopt reported", async () => {
    const seen = await run("failing")
    assert.strictEqual(seen.echo, "ping")
    assert.match(seen.options, /^SO_REUSEADDR=0 SO_REUSEPORT=0 SO_RCVBUF=\d+ SO_SNDBUF=\d+ TCP_NODELAY=1/)
    assert.match(seen.options, / TCP_KEEPIDLE=\d+ TCP_KEEPINTVL=\d+ TCP_KEEPCNT=\d+ TCP_USER_TIMEOUT=0$/)
    const connect = failed(seen.connect)
    assert.deepInclude(connect, { tag: "OSError", code: "EBADF", errno: errno.EBADF, syscall: "connect" })
    assert.match(connect.message, /^\[Errno \d+\] Bad file descriptor: setsockopt\(SO_RCVBUF, 65536\) failed \(/)
    assert.strictEqual(seen.listen, "succeeded")
    // set once connected (Node creates the socket in connect), so the peer saw a connection, reset at once
    assert.deepInclude(failed(seen.accept), { code: "EBADF", errno: errno.EBADF, syscall: "accept" })
    const keepAliveCount = failed(seen.keepAliveCount)
    assert.deepInclude(keepAliveCount, { code: "EBADF", errno: errno.EBADF, syscall: "connect" })
    assert.include(keepAliveCount.message, "setsockopt(TCP_KEEPCNT, 3) failed")
    assert.strictEqual(seen.keepAliveIdle, "succeeded")
    assert.strictEqual(seen.userTimeout, "succeeded")
    // the echo's, the buffer size's and keepAliveCount's (reset at once), keepAliveIdle's
    assert.strictEqual(seen.accepted, 4)
  })
})
