// `--otlp-endpoint` end to end: main.ts as a process on loopback (through ServerProcess.ts) exporting
// to an OTLP/HTTP receiver inside the test (otlp.ts), known traffic made with node:net, then SIGTERM:
// every connection's span must have reached the receiver by the time the server has exited, with the
// attributes its connection calls for. Every process started here is killed when its test ends.
import { assert, describe, it } from "@effect/vitest"
import { readFileSync } from "node:fs"
import * as Net from "node:net"
import { receiver, type Span } from "./otlp.ts"
import {
  connect,
  deadline,
  type Log,
  patience,
  payload,
  type Process,
  received,
  run,
  start,
  type Test
} from "./ServerProcess.ts"

const version: string = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")).version

const sizes = [1_000, 20_000, 300_000]

const opened = (server: Process, port: number) =>
  server.waitFor((log) => log.message === "Connection opened" && log.annotations.peer === `127.0.0.1:${port}`)

const closed = (server: Process, port: number) =>
  server.waitFor((log) => log.message === "Connection closed" && log.annotations.peer === `127.0.0.1:${port}`)

/** Echoes `size` bytes on a new connection, every byte checked; resolves with the client's port. */
const echo = async (port: number, size: number, seed: number): Promise<number> => {
  const socket = await connect(port)
  const local = socket.localPort!
  const echoed = received(socket)
  const sent = payload(size, seed)
  socket.end(sent)
  assert.isTrue((await echoed).equals(sent), `the echo of ${size} bytes`)
  return local
}

/** SIGTERM, then the exit code and how long the exit took. */
const terminate = async (server: Process): Promise<{ code: number | null; millis: number }> => {
  const started = Date.now()
  server.child.kill("SIGTERM")
  const code = await deadline(server.exit, patience, "the server's exit")
  return { code, millis: Date.now() - started }
}

const connectionSpans = (spans: ReadonlyArray<Span>) => spans.filter((span) => span.name === "echo.connection")

/** The one connection span of the client that had this port. */
const spanOf = (spans: ReadonlyArray<Span>, clientPort: number): Span => {
  const found = connectionSpans(spans).filter((span) => span.attributes["client.port"] === clientPort)
  assert.strictEqual(found.length, 1, `one span for the client on port ${clientPort}`)
  return found[0]!
}

/** What every span of a plain TCP connection from 127.0.0.1 to the server says of the connection. */
const assertConnection = (span: Span, clientPort: number, serverPort: number) => {
  assert.strictEqual(span.kind, 2, "kind server")
  assert.isUndefined(span.parentSpanId, "each connection is the root of its own trace")
  assert.isTrue(BigInt(span.endTimeUnixNano) >= BigInt(span.startTimeUnixNano))
  assert.deepInclude(span.attributes, {
    "network.transport": "tcp",
    "network.type": "ipv4",
    "network.peer.address": "127.0.0.1",
    "network.peer.port": clientPort,
    "client.address": "127.0.0.1",
    "client.port": clientPort,
    "network.local.address": "127.0.0.1",
    "network.local.port": serverPort,
    "server.address": "127.0.0.1",
    "server.port": serverPort
  })
  assert.isNumber(span.attributes["echo.connection.id"])
}

const assertEchoed = (span: Span, size: number) => {
  assert.deepInclude(span.attributes, {
    "echo.connection.bytes_received": size,
    "echo.connection.bytes_sent": size,
    "echo.connection.close_reason": "eof"
  })
  assert.notProperty(span.attributes, "error.type")
  assert.strictEqual(span.status.code, 1, "status ok")
}

const warnings = (server: Process) =>
  server.logs().filter((log: Log) => log.level === "WARN" && log.message.startsWith("Spans not exported"))

describe("--otlp-endpoint", { timeout: 3 * patience }, () => {
  it("exports one span per connection, with its addresses, bytes and close reason, flushed on SIGTERM", async (test: Test) => {
    const otlp = await receiver(test)
    const server = await start(test, ["--otlp-endpoint", otlp.url, "--idle-timeout", "1", "--shutdown-timeout", "0.5"])
    const echoed = await Promise.all(sizes.map((size, i) => echo(server.port, size, i)))
    // idle: the server closes it after a second without traffic
    const idle = await connect(server.port)
    const idlePort = idle.localPort!
    idle.on("error", () => {})
    await closed(server, idlePort)
    // reset by the client
    const doomed = await connect(server.port)
    const doomedPort = doomed.localPort!
    doomed.on("error", () => {})
    await opened(server, doomedPort)
    doomed.resetAndDestroy()
    await closed(server, doomedPort)
    // still open at SIGTERM: the shutdown ends it
    const open = await connect(server.port)
    const openPort = open.localPort!
    open.on("error", () => {})
    await opened(server, openPort)
    // nothing was exported yet: what follows comes from the flush on shutdown
    const { code } = await terminate(server)
    assert.strictEqual(code, 0)

    const spans = otlp.spans()
    assert.deepStrictEqual(otlp.rejected(), [])
    assert.strictEqual(connectionSpans(spans).length, 6, "one span per connection")
    assert.strictEqual(new Set(connectionSpans(spans).map((span) => span.traceId)).size, 6, "a trace each")
    sizes.forEach((size, i) => {
      const span = spanOf(spans, echoed[i]!)
      assertConnection(span, echoed[i]!, server.port)
      assertEchoed(span, size)
    })
    const idleSpan = spanOf(spans, idlePort)
    assertConnection(idleSpan, idlePort, server.port)
    assert.deepInclude(idleSpan.attributes, {
      "echo.connection.close_reason": "idle-timeout",
      "echo.connection.bytes_received": 0,
      "echo.connection.bytes_sent": 0
    })
    assert.notProperty(idleSpan.attributes, "error.type", "the idle timeout is no failure")
    assert.notStrictEqual(idleSpan.status.code, 2)
    const resetSpan = spanOf(spans, doomedPort)
    assertConnection(resetSpan, doomedPort, server.port)
    assert.deepInclude(resetSpan.attributes, {
      "echo.connection.close_reason": "reset",
      "error.type": "ConnectionResetError"
    })
    assert.strictEqual(resetSpan.status.code, 2, "status error")
    assert.match(resetSpan.status.message ?? "", /^\[Errno 104\] Connection reset by peer[^\n]*$/)
    const shutdownSpan = spanOf(spans, openPort)
    assertConnection(shutdownSpan, openPort, server.port)
    assert.strictEqual(shutdownSpan.attributes["echo.connection.close_reason"], "shutdown")
    assert.notProperty(shutdownSpan.attributes, "error.type")
    for (const span of connectionSpans(spans)) {
      assert.deepInclude(span.resource, { "service.name": "echo-server", "service.version": version })
      assert.strictEqual(span.resource["process.pid"], server.child.pid)
      assert.notProperty(span.resource, "echo.worker.index")
    }
    assert.deepStrictEqual(warnings(server), [])
  })

  it("under --workers 2, each worker exports its own connections' spans, with its index", async (test: Test) => {
    const otlp = await receiver(test)
    const server = run(test, ["--port", "0", "--log-format", "json", "--workers", "2", "--otlp-endpoint", otlp.url])
    const started = await server.waitFor((log) => log.message.startsWith("Started 2 workers"))
    const port = started.annotations.port as number
    const workerPids = new Map(
      server.logs().filter((log) => log.message.startsWith("Serving on ")).map((log) => [
        log.annotations.pid as number,
        log.annotations.worker as number
      ])
    )
    assert.strictEqual(workerPids.size, 2)
    const many = Array.from({ length: 8 }, (_, i) => 500 + i * 1_000)
    const clients = await Promise.all(many.map((size, i) => echo(port, size, i)))
    await Promise.all(clients.map((client) => closed(server, client)))
    const { code } = await terminate(server)
    assert.strictEqual(code, 0)

    const spans = otlp.spans()
    assert.strictEqual(connectionSpans(spans).length, many.length)
    many.forEach((size, i) => {
      const span = spanOf(spans, clients[i]!)
      assertConnection(span, clients[i]!, port)
      assertEchoed(span, size)
      const pid = span.resource["process.pid"] as number
      assert.isTrue(workerPids.has(pid), `span from a worker (pid ${pid})`)
      assert.strictEqual(span.resource["echo.worker.index"], workerPids.get(pid))
    })
  })

  it("honours OTEL_EXPORTER_OTLP_ENDPOINT and OTEL_SERVICE_NAME", async (test: Test) => {
    const otlp = await receiver(test)
    const server = await start(test, [], {
      OTEL_EXPORTER_OTLP_ENDPOINT: `${otlp.url}/`,
      OTEL_SERVICE_NAME: "edge-echo"
    })
    const client = await echo(server.port, 10, 0)
    await closed(server, client)
    assert.strictEqual((await terminate(server)).code, 0)
    const span = spanOf(otlp.spans(), client)
    assert.strictEqual(span.resource["service.name"], "edge-echo")
  })

  it("a bad endpoint is a usage error, exit 2", async (test: Test) => {
    for (
      const [args, env] of [
        [["--otlp-endpoint", "ftp://127.0.0.1:4318"], {}],
        [["--otlp-endpoint", "localhost:4318"], {}],
        [[], { ECHO_OTLP_ENDPOINT: "not a url" }]
      ] as const
    ) {
      const server = run(test, ["--port", "0", ...args], env)
      const code = await deadline(server.exit, patience, "the exit")
      assert.strictEqual(code, 2, `${args.join(" ")} ${JSON.stringify(env)}`)
      assert.match(server.lines().join("\n"), /--otlp-endpoint .*must be an http:\/\/ or https:\/\/ URL/)
    }
  })

  it("a collector that refuses connections: one warning, and the server shuts down in time", async (test: Test) => {
    const closedPort = await freePort()
    const server = await start(test, ["--otlp-endpoint", `http://127.0.0.1:${closedPort}`])
    const client = await echo(server.port, 100, 0)
    await closed(server, client)
    const { code, millis } = await terminate(server)
    assert.strictEqual(code, 0)
    assert.isBelow(millis, 8_000)
    assert.strictEqual(warnings(server).length, 1, server.lines().join("\n"))
  })

  it("a collector that never answers: the shutdown waits for it 3 seconds at most, then warns once", async (test: Test) => {
    const silent = Net.createServer(() => {}).listen(0, "127.0.0.1")
    const sockets = new Set<Net.Socket>()
    silent.on("connection", (socket) => sockets.add(socket))
    test.onTestFinished(() => {
      for (const socket of sockets) socket.destroy()
      silent.close()
    })
    await new Promise((resolve) => silent.once("listening", resolve))
    const { port } = silent.address() as Net.AddressInfo
    const server = await start(test, ["--otlp-endpoint", `http://127.0.0.1:${port}`])
    const client = await echo(server.port, 100, 0)
    await closed(server, client)
    const { code, millis } = await terminate(server)
    assert.strictEqual(code, 0)
    assert.isBelow(millis, 8_000)
    assert.isAtLeast(sockets.size, 1, "the server did try")
    assert.strictEqual(warnings(server).length, 1, server.lines().join("\n"))
  })
})

/** A port nothing listens on (bound, then closed). */
const freePort = async (): Promise<number> => {
  const server = Net.createServer().listen(0, "127.0.0.1")
  await new Promise((resolve) => server.once("listening", resolve))
  const { port } = server.address() as Net.AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return port
}
