// --proxy-protocol end to end: main.ts as a process on loopback, a PROXY header written by hand (from
// HAProxy's proxy-protocol.txt) before the bytes to echo. The real balancer is haproxy.test.ts's.
import { assert, describe, it } from "@effect/vitest"
import { once } from "node:events"
import * as Net from "node:net"
import { valueOf } from "./exposition.ts"
import { connect, deadline, patience, payload, received, start } from "./ServerProcess.ts"

/** Version 2, PROXY over TCP/IPv4: the 12-byte signature, version and command, family, length, addresses. */
const v2 = (source: string, sourcePort: number, destination: string, destinationPort: number): Buffer => {
  const body = Buffer.alloc(12)
  Buffer.from(source.split(".").map(Number)).copy(body, 0)
  Buffer.from(destination.split(".").map(Number)).copy(body, 4)
  body.writeUInt16BE(sourcePort, 8)
  body.writeUInt16BE(destinationPort, 10)
  const signature = Buffer.from("0d0a0d0a000d0a515549540a", "hex")
  return Buffer.concat([signature, Buffer.from([0x21, 0x11, 0x00, 12]), body])
}

/** Version 2, LOCAL (a balancer's own connection, such as a health check): no addresses. */
const v2Local = Buffer.concat([Buffer.from("0d0a0d0a000d0a515549540a", "hex"), Buffer.from([0x20, 0x00, 0x00, 0x00])])

/** Sends `bytes`, reads `expected` back, then resets: what HAProxy's echo health check does. */
const resetAfterEcho = async (port: number, bytes: Buffer, expected: string): Promise<void> => {
  const socket = await connect(port)
  let echoed = ""
  socket.on("data", (chunk: Buffer) => (echoed += chunk.toString()))
  socket.write(bytes)
  await deadline(
    new Promise<void>((resolve) => socket.on("data", () => echoed === expected && resolve())),
    patience,
    "the echo"
  )
  socket.resetAndDestroy()
}

describe.concurrent("echo-server --proxy-protocol", () => {
  it("a balancer's health check (LOCAL) is echoed, but neither logged at info nor counted as an error", async (test) => {
    const server = await start(test, ["--proxy-protocol", "--metrics-port", "0"])
    for (let i = 0; i < 3; i++) {
      await resetAfterEcho(server.port, Buffer.concat([v2Local, Buffer.from("ping\n")]), "ping\n")
    }
    // a client's connection, reset the same way, is both
    const client = Buffer.concat([v2("203.0.113.9", 40009, "127.0.0.1", 8888), Buffer.from("hi")])
    await resetAfterEcho(server.port, client, "hi")
    await server.waitFor((log) => log.message === "Connection closed")
    const metrics = server.logs().find((log) => log.message.startsWith("Metrics on "))!.annotations.port as number
    const text = await (await fetch(`http://127.0.0.1:${metrics}/metrics`)).text()
    assert.strictEqual(valueOf(text, `echo_connection_errors_total{error="ConnectionResetError"}`), 1)
    assert.strictEqual(valueOf(text, "echo_connection_duration_seconds_count"), 1)
    assert.strictEqual(valueOf(text, "echo_connections_accepted_total"), 4)
    const logged = server.logs().filter((log) => log.message.startsWith("Connection "))
    assert.deepStrictEqual(logged.map((log) => log.annotations.peer), ["203.0.113.9:40009", "203.0.113.9:40009"])
    server.child.kill("SIGTERM")
    assert.strictEqual(await deadline(server.exit, patience, "exit"), 0)
  })

  it("logs the client the header names, with the proxy beside it, and echoes what follows the header", async (test) => {
    const server = await start(test, ["--proxy-protocol"])
    const serving = server.logs().find((log) => log.message.startsWith("Serving on "))!
    assert.strictEqual(serving.annotations.proxyProtocol, true)
    assert.strictEqual(serving.annotations.trustedProxies, "127.0.0.1/32,::1/128")
    const sent = payload(100_000, 3)
    for (
      const header of [
        Buffer.from("PROXY TCP4 203.0.113.7 127.0.0.1 40001 8888\r\n"),
        v2("203.0.113.8", 40002, "127.0.0.1", 8888)
      ]
    ) {
      const socket = await connect(server.port)
      const echo = received(socket)
      socket.end(Buffer.concat([header, sent]))
      assert.isTrue((await echo).equals(sent))
    }
    await server.waitFor((log) => log.message === "Connection closed" && log.annotations.peer === "203.0.113.8:40002")
    const opened = server.logs().filter((log) => log.message === "Connection opened")
    assert.deepStrictEqual(opened.map((log) => log.annotations.peer), ["203.0.113.7:40001", "203.0.113.8:40002"])
    for (const log of opened) assert.match(String(log.annotations.proxy), /^127\.0\.0\.1:\d+$/)
    server.child.kill("SIGTERM")
    assert.strictEqual(await deadline(server.exit, patience, "exit"), 0)
  })

  it("a peer outside --trusted-proxies is reset and logged, and the server goes on", async (test) => {
    const server = await start(test, ["--proxy-protocol", "--trusted-proxies", "10.0.0.0/8, 192.168.0.0/16"])
    // nothing written: the reset comes before anything is read (on a loaded machine, even before Node
    // reported the connect), and a write might meet it as EPIPE
    const socket = Net.connect({ port: server.port, host: "127.0.0.1" })
    const [error] = (await deadline(once(socket, "error"), patience, "the reset")) as [NodeJS.ErrnoException]
    assert.strictEqual(error.code, "ECONNRESET")
    const rejected = await server.waitFor((log) => log.message === "PROXY header rejected")
    assert.strictEqual(rejected.level, "WARN")
    assert.match(String(rejected.annotations.peer), /^127\.0\.0\.1:\d+$/)
    assert.strictEqual(rejected.annotations.reason, "untrusted")
    assert.strictEqual(rejected.annotations.error, "ProxyHeaderError")
    server.child.kill("SIGTERM")
    assert.strictEqual(await deadline(server.exit, patience, "exit"), 0)
    // counted as failed (and in echo_connections_failed_total), never served
    const stopped = server.logs().find((log) => log.message === "Stopped")!
    assert.deepStrictEqual([stopped.annotations.accepted, stopped.annotations.failed], [1, 1])
    assert.isUndefined(server.logs().find((log) => log.message === "Connection opened"))
  })

  it("a connection without a header is reset after --proxy-header-timeout, and logged", async (test) => {
    const server = await start(test, ["--proxy-protocol", "--proxy-header-timeout", "0.3"])
    const socket = await connect(server.port)
    const reset = once(socket, "error")
    const rejected = await server.waitFor((log) => log.message === "PROXY header rejected")
    assert.strictEqual(rejected.annotations.error, "TimeoutError")
    assert.strictEqual(rejected.annotations.peer, `127.0.0.1:${socket.localPort}`)
    const [error] = (await deadline(reset, patience, "the reset")) as [NodeJS.ErrnoException]
    assert.strictEqual(error.code, "ECONNRESET")
    // a connection with its header is still served
    const next = await connect(server.port)
    const echo = received(next)
    next.end("PROXY UNKNOWN\r\nping")
    assert.strictEqual((await echo).toString(), "ping")
    server.child.kill("SIGTERM")
    assert.strictEqual(await deadline(server.exit, patience, "exit"), 0)
  })
})
