// The span of a connection: its attributes from what a connection knows (a plain one, one behind the
// PROXY protocol, TLS, a Unix socket), and on the fake network that the default handler makes no span
// at all, where ConnectionSpan.handler makes one per connection, ended with the connection.
import { Tcp } from "@effect-tcp/socket"
import type { Connection } from "@effect-tcp/socket"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Tracer } from "effect"
import * as ConnectionSpan from "../src/ConnectionSpan.ts"
import type * as Echo from "../src/Echo.ts"
import * as EchoServer from "../src/EchoServer.ts"
import { bytes, fake, options, roundTrip, waitFor } from "./fake.ts"

type Known = Parameters<typeof ConnectionSpan.opened>[0]

const plain: Known = {
  id: 7,
  remoteAddress: { family: "IPv4", host: "127.0.0.1", port: 50000 },
  localAddress: { family: "IPv4", host: "127.0.0.1", port: 8888 },
  tls: undefined,
  proxy: undefined
}

describe("ConnectionSpan.opened", () => {
  it("a plain TCP connection: the peer is the client, the server is this end", () => {
    assert.deepStrictEqual(ConnectionSpan.opened(plain), {
      "echo.connection.id": 7,
      "network.transport": "tcp",
      "network.type": "ipv4",
      "network.peer.address": "127.0.0.1",
      "network.peer.port": 50000,
      "network.local.address": "127.0.0.1",
      "network.local.port": 8888,
      "client.address": "127.0.0.1",
      "client.port": 50000,
      "server.address": "127.0.0.1",
      "server.port": 8888
    })
  })

  it("behind the PROXY protocol: the peer is the balancer, the client and server are the header's", () => {
    const proxied: Known = {
      ...plain,
      remoteAddress: { family: "IPv6", host: "2001:db8::7", port: 41000 },
      localAddress: { family: "IPv4", host: "10.0.0.5", port: 8888 },
      proxy: {
        address: { family: "IPv4", host: "10.0.0.2", port: 36000 },
        version: 2,
        command: "PROXY",
        source: { family: "IPv6", host: "2001:db8::7", port: 41000 },
        destination: { family: "IPv6", host: "2001:db8::1", port: 7 }
      }
    }
    assert.deepInclude(ConnectionSpan.opened(proxied), {
      "network.type": "ipv4",
      "network.peer.address": "10.0.0.2",
      "network.peer.port": 36000,
      "network.local.address": "10.0.0.5",
      "client.address": "2001:db8::7",
      "client.port": 41000,
      "server.address": "2001:db8::1",
      "server.port": 7
    })
  })

  it("TLS: the version as a number, the cipher, ALPN and the client's certificate", () => {
    const tls = {
      protocol: "TLSv1.3",
      cipher: "TLS_AES_256_GCM_SHA384",
      alpnProtocol: "echo",
      peerCertificate: { subject: "CN=client" },
      authorized: true
    } as unknown as Connection.Connection["tls"]
    assert.deepInclude(ConnectionSpan.opened({ ...plain, tls }), {
      "tls.established": true,
      "tls.protocol.name": "tls",
      "tls.protocol.version": "1.3",
      "tls.cipher": "TLS_AES_256_GCM_SHA384",
      "tls.next_protocol": "echo",
      "tls.client.subject": "CN=client"
    })
  })

  it("a Unix socket: no network.type, no port, and no name for the unnamed client", () => {
    const attributes = ConnectionSpan.opened({
      ...plain,
      remoteAddress: { family: "Unix", path: "" },
      localAddress: { family: "Unix", path: "/run/echo.sock" }
    })
    assert.deepStrictEqual(attributes, {
      "echo.connection.id": 7,
      "network.transport": "unix",
      "network.local.address": "/run/echo.sock",
      "server.address": "/run/echo.sock"
    })
  })
})

describe("ConnectionSpan.closed and outcome", () => {
  const report = { bytesIn: 3, bytesOut: 2, exit: Exit.void }
  it("a reset or an error is a failure: error.type, and the echo's failure ends the span", () => {
    const failure = Exit.fail(new Error("reset")) as unknown as Echo.Report["exit"]
    const reset = { ...report, reason: "reset" as const, error: "ConnectionResetError", exit: failure }
    assert.deepStrictEqual(ConnectionSpan.closed(reset), {
      "echo.connection.bytes_received": 3,
      "echo.connection.bytes_sent": 2,
      "echo.connection.close_reason": "reset",
      "error.type": "ConnectionResetError"
    })
    assert.strictEqual(ConnectionSpan.outcome(reset), failure)
  })

  it("the peer's close, the idle timeout and the shutdown are not", () => {
    for (const reason of ["eof", "idle-timeout", "shutdown"] as const) {
      const ended = {
        ...report,
        reason,
        error: "TimeoutError",
        exit: Exit.fail(new Error("idle")) as unknown as Echo.Report["exit"]
      }
      assert.notProperty(ConnectionSpan.closed(ended), "error.type", reason)
      assert.isTrue(Exit.isSuccess(ConnectionSpan.outcome(ended)), reason)
    }
  })
})

/** A tracer that keeps every span it makes. */
const recording = () => {
  const spans: Array<Tracer.Span> = []
  const tracer = Tracer.make({
    span: (options) => {
      const span = new Tracer.NativeSpan(options)
      spans.push(span)
      return span
    }
  })
  return { spans, tracer }
}

const serveThree = (handler: EchoServer.Options["handler"]) =>
  fake((logs) =>
    Effect.gen(function*() {
      yield* EchoServer.run({ ...options(), handler }).pipe(Effect.forkScoped)
      yield* waitFor(logs, (entry) => entry.message.startsWith("Serving on"))
      const port = logs.find((entry) => entry.message.startsWith("Serving on"))!.annotations.port as number
      for (let i = 0; i < 3; i++) {
        const client = yield* Tcp.connect({ port })
        yield* roundTrip(client, [bytes(100 + i)])
      }
      yield* waitFor(logs, () => logs.filter((e) => e.message === "Connection closed").length === 3)
    })
  )

describe("ConnectionSpan.handler", () => {
  it.effect("Echo.handler, the default, makes no span per connection; the traced one makes one each", () =>
    Effect.gen(function*() {
      const untraced = recording()
      yield* serveThree(undefined).pipe(Effect.withTracer(untraced.tracer))
      const names = untraced.spans.map((span) => span.name)
      assert.notInclude(names, ConnectionSpan.name)
      // what is left are the server's own spans, made once as it starts, whatever the traffic
      assert.deepStrictEqual([...new Set(names)].toSorted(), ["EchoServer.run", "Tcp.connect", "Tcp.listen"])
      assert.strictEqual(names.filter((name) => name !== "Tcp.connect").length, 2)

      const traced = recording()
      yield* serveThree(ConnectionSpan.handler).pipe(Effect.withTracer(traced.tracer))
      const connections = traced.spans.filter((span) => span.name === ConnectionSpan.name)
      assert.strictEqual(connections.length, 3)
      for (const [i, span] of connections.entries()) {
        assert.strictEqual(span.kind, "server")
        assert.strictEqual(span.status._tag, "Ended")
        assert.strictEqual(span.attributes.get("echo.connection.bytes_received"), 100 + i)
        assert.strictEqual(span.attributes.get("echo.connection.close_reason"), "eof")
      }
    }))
})
