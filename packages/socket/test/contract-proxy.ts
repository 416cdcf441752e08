// The PROXY protocol in the contract of the Tcp service, run on both layers
// from contract.test.ts: a server with `proxyProtocol` reads versions 1 and 2
// off its connections before handing them out, on the Node layer from the
// socket, on the fake network from the bytes its client writes first; the
// headers are written here, by hand (proxyHeaders.ts), as a proxy would.
//
// Every test binds 127.0.0.1 port 0 only, and is bounded in time.
import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect, Fiber, Option, Stream } from "effect"
import type { Layer, Scope } from "effect"
import * as fc from "fast-check"
import * as Address from "../src/Address.ts"
import type { InetAddress } from "../src/Address.ts"
import { FakeNetwork } from "../src/FakeNetwork.ts"
import * as OSError from "../src/OSError.ts"
import * as ProxyProtocol from "../src/ProxyProtocol.ts"
import * as Tcp from "../src/Tcp.ts"
import * as Tls from "../src/Tls.ts"
import { proxyHeader, type Sent, tlv, v1, v1Unknown, v2 } from "./proxyHeaders.ts"
import { certificates } from "./tls/certs.ts"
import { capture, concat, encode, eventually, liveProperty, readAll } from "./util.ts"

const bounded = "10 seconds"

const certs = certificates()

const loopback: ProxyProtocol.ProxyProtocolOptions = { trusted: ["127.0.0.0/8", "::1/128"] }

const client4: InetAddress = { family: "IPv4", host: "203.0.113.7", port: 51234 }
const front4: InetAddress = { family: "IPv4", host: "198.51.100.1", port: 443 }
const client6: InetAddress = { family: "IPv6", host: "2001:db8::7", port: 40000 }
const front6: InetAddress = { family: "IPv6", host: "2001:db8::1", port: 8443 }

/** A server that reads the PROXY protocol, and a client of it (the "proxy") that has written `header`. */
const proxied = (header: Uint8Array, options?: Partial<ProxyProtocol.ProxyProtocolOptions>) =>
  Effect.gen(function*() {
    const server = yield* Tcp.listen({ proxyProtocol: { ...loopback, ...options } })
    const proxy = yield* Tcp.connect({ port: server.address.port })
    if (header.length > 0) yield* proxy.write(header)
    return { server, proxy }
  })

/**
 * A connection whose header the server rejects: what the `accept` waiting for it fails with. The proxy's
 * connection is reset: it meets the reset connecting (reset at once), or at its first read.
 */
const rejected = (server: Tcp.Server<InetAddress>, header: Uint8Array | undefined, end = false) =>
  Effect.gen(function*() {
    const accepting = yield* Effect.forkChild(Effect.flip(server.accept))
    yield* Effect.sleep(20)
    const read = yield* Effect.flip(Effect.gen(function*() {
      const proxy = yield* Tcp.connect({ port: server.address.port })
      if (header !== undefined) yield* proxy.write(header)
      if (end) yield* proxy.end
      return yield* readAll(proxy)
    }))
    assert.strictEqual(read._tag, "ConnectionResetError", "the proxy's connection is reset")
    return yield* Fiber.join(accepting)
  })

/** Where the network can (the fake one), cuts every write on the wire into `size`-byte segments. */
const cutWrites = (size: number | undefined) =>
  Effect.flatMap(
    Effect.serviceOption(FakeNetwork),
    (network) => Option.isSome(network) ? network.value.splitWrites(size) : Effect.void
  )

export interface ProxyContractOptions {
  /** Cases of the property test (fewer on real sockets, which cost more each). */
  readonly runs: number
}

export const contractProxy = (name: string, layer: Layer.Layer<Tcp.Tcp>, options: ProxyContractOptions): void => {
  const test = (title: string, body: () => Effect.Effect<void, unknown, Tcp.Tcp | Scope.Scope>) =>
    it.live(title, () => body().pipe(Effect.scoped, Effect.provide(layer), Effect.timeout(bounded)))

  describe(`PROXY protocol contract: ${name}`, () => {
    test("version 1: remoteAddress is the client's, proxy the proxy's; the bytes after the header are the stream's", () =>
      Effect.gen(function*() {
        const { proxy, server } = yield* proxied(concat([v1(client4, front4), encode("hello")]))
        const accepted = yield* server.accept
        assert.deepStrictEqual(accepted.remoteAddress, client4)
        assert.deepStrictEqual(accepted.localAddress, server.address)
        assert.deepStrictEqual(accepted.proxy, {
          address: proxy.localAddress as InetAddress,
          version: 1,
          command: "PROXY",
          source: client4,
          destination: front4
        })
        yield* proxy.write(" world")
        yield* proxy.end
        assert.strictEqual(yield* readAll(accepted), "hello world")
        // the header is the proxy's, not the connection's
        assert.strictEqual(yield* accepted.bytesRead, 11)
        yield* accepted.write("back")
        yield* accepted.end
        assert.strictEqual(yield* readAll(proxy), "back")
        assert.isUndefined(proxy.proxy, "a client's connection reads no header")
      }))

    test("version 1 over IPv6 (TCP6), and an IPv4-mapped address in its IPv4 form", () =>
      Effect.gen(function*() {
        const { server } = yield* proxied(v1(client6, front6))
        const accepted = yield* server.accept
        assert.deepStrictEqual(accepted.remoteAddress, client6)
        assert.deepStrictEqual(accepted.proxy?.destination, front6)
        const mapped = yield* Tcp.connect({ port: server.address.port })
        yield* mapped.write("PROXY TCP6 ::ffff:192.0.2.9 ::FFFF:192.0.2.1 1000 2000\r\n")
        const second = yield* server.accept
        assert.deepStrictEqual(second.remoteAddress, { family: "IPv4", host: "192.0.2.9", port: 1000 })
        assert.deepStrictEqual(second.proxy?.destination, { family: "IPv4", host: "192.0.2.1", port: 2000 })
      }))

    test("version 2 over IPv4 and IPv6, its TLVs skipped; the bytes after it are the stream's", () =>
      Effect.gen(function*() {
        const alpn = tlv(0x01, encode("h2"))
        const authority = tlv(0x02, encode("example.com"))
        const { proxy, server } = yield* proxied(
          concat([v2({ source: client4, destination: front4, tlvs: [alpn, authority] }), encode("payload")])
        )
        const accepted = yield* server.accept
        assert.deepStrictEqual(accepted.remoteAddress, client4)
        assert.deepStrictEqual(accepted.proxy, {
          address: proxy.localAddress as InetAddress,
          version: 2,
          command: "PROXY",
          source: client4,
          destination: front4
        })
        yield* proxy.end
        assert.strictEqual(yield* readAll(accepted), "payload")
        const six = yield* Tcp.connect({ port: server.address.port })
        yield* six.write(v2({ source: client6, destination: front6 }))
        const second = yield* server.accept
        assert.deepStrictEqual(second.remoteAddress, client6)
        assert.strictEqual(second.proxy?.version, 2)
      }))

    test("LOCAL (a health check), UNKNOWN, UNSPEC, UDP and Unix addresses keep the proxy's address", () =>
      Effect.gen(function*() {
        const server = yield* Tcp.listen({ proxyProtocol: loopback })
        const cases = [
          ["LOCAL", v2({ command: "LOCAL", source: client4, destination: front4 }), 2, "LOCAL"],
          ["UNKNOWN", v1Unknown(), 1, "PROXY"],
          ["UNKNOWN with addresses", v1Unknown(" ::1 ::2 3 4"), 1, "PROXY"],
          ["UNSPEC", v2({}), 2, "PROXY"],
          ["UDP over IPv4", v2({ familyAndTransport: 0x12, addresses: new Uint8Array(12) }), 2, "PROXY"],
          ["Unix stream", v2({ familyAndTransport: 0x31, addresses: new Uint8Array(216) }), 2, "PROXY"]
        ] as const
        for (const [what, header, version, command] of cases) {
          const proxy = yield* Tcp.connect({ port: server.address.port })
          yield* proxy.writeAll([header, "after"])
          yield* proxy.end
          const accepted = yield* server.accept
          assert.deepStrictEqual(accepted.remoteAddress, proxy.localAddress, what)
          assert.deepStrictEqual(accepted.proxy, {
            address: proxy.localAddress as InetAddress,
            version,
            command,
            source: undefined,
            destination: undefined
          }, what)
          assert.strictEqual(yield* readAll(accepted), "after", what)
        }
      }))

    test("a peer outside the trusted ranges: accept fails with ProxyHeaderError (untrusted), the peer is reset", () =>
      Effect.gen(function*() {
        const server = yield* Tcp.listen({ proxyProtocol: { trusted: ["10.0.0.0/8", "fd00::/8"] } })
        const error = yield* rejected(server, undefined)
        assert.isTrue(ProxyProtocol.isProxyHeaderError(error))
        assert.isFalse(OSError.isOSError(error))
        const rejection = error as ProxyProtocol.ProxyHeaderError
        assert.strictEqual(rejection.reason, "untrusted")
        assert.strictEqual(rejection.code, "EACCES")
        assert.strictEqual(rejection.syscall, "accept")
        assert.match(
          rejection.message,
          new RegExp(
            `^\\[Errno ${OSError.errnoOf("EACCES")}\\] Permission denied: 127\\.0\\.0\\.1 is not a trusted proxy ` +
              `\\(in none of proxyProtocol\\.trusted\\) \\(127\\.0\\.0\\.1:\\d+\\)$`
          )
        )
        assert.deepStrictEqual(
          yield* eventually(server.stats, (stats) => stats.active === 0),
          { active: 0, accepted: 1, rejected: 0, failed: 1 }
        )
      }))

    test("malformed headers: accept fails with ProxyHeaderError (malformed) at once, naming what was wrong", () =>
      Effect.gen(function*() {
        const cases: ReadonlyArray<readonly [Uint8Array, string]> = [
          [encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), `no signature at the start: "GET / HTTP/1.1\\r\\n..."`],
          [encode("PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n"), "protocol must be TCP4, TCP6 or UNKNOWN"],
          [encode("PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n"), "has 6 fields"],
          [encode("PROXY TCP4 1.2.3.400 5.6.7.8 1 2\r\n"), `"1.2.3.400" is not an IPv4 address`],
          [encode("PROXY TCP4 ::1 5.6.7.8 1 2\r\n"), `"::1" is not an IPv4 address`],
          [encode("PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n"), `"65536" is not a port`],
          [encode("PROXY TCP4 1.2.3.4 5.6.7.8 1 02\r\n"), `"02" is not a port`],
          [encode("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n"), "ends with LF, not CRLF"],
          [encode(`PROXY UNKNOWN ${"x".repeat(120)}`), "no CRLF within 107 bytes"],
          [v2({ versionAndCommand: 0x11, source: client4, destination: front4 }), "version must be 2, not 1"],
          [
            v2({ versionAndCommand: 0x22, source: client4, destination: front4 }),
            "command must be LOCAL (0) or PROXY (1)"
          ],
          [v2({ familyAndTransport: 0x41 }), "family and transport (0x41) are unknown"],
          [v2({ source: client4, destination: front4, length: 8 }), "too short for its addresses (12)"],
          [v2({ length: 16 * 1024 }), "a version 2 header of 16400 bytes is over the limit of 16384"]
        ]
        const server = yield* Tcp.listen({ proxyProtocol: { ...loopback, headerTimeout: "1 minute" } })
        for (const [header, detail] of cases) {
          // no FIN: the header is malformed as soon as the bytes say so, not at the timeout
          const error = (yield* rejected(server, header)) as ProxyProtocol.ProxyHeaderError
          assert.strictEqual(error._tag, "ProxyHeaderError", detail)
          assert.strictEqual(error.reason, "malformed", detail)
          assert.strictEqual(error.code, "EPROTO", detail)
          assert.include(error.detail, detail)
          assert.match(error.message, /^\[Errno \d+\] Protocol error: malformed PROXY protocol header: /)
        }
      }))

    test("a header cut short by the peer's end: ProxyHeaderError (incomplete), with the bytes that came", () =>
      Effect.gen(function*() {
        const server = yield* Tcp.listen({ proxyProtocol: loopback })
        const error = (yield* rejected(server, encode("PROXY TCP4 1.2"), true)) as ProxyProtocol.ProxyHeaderError
        assert.strictEqual(error.reason, "incomplete")
        assert.strictEqual(
          error.detail,
          "the peer ended the connection after 14 bytes, before its PROXY protocol header was complete"
        )
        const none = (yield* rejected(server, undefined, true)) as ProxyProtocol.ProxyHeaderError
        assert.strictEqual(none.reason, "incomplete")
        assert.include(none.detail, "after 0 bytes")
      }))

    test("a header slower than headerTimeout: TimeoutError (ETIMEDOUT) within it, the peer is reset", () =>
      Effect.gen(function*() {
        const server = yield* Tcp.listen({ proxyProtocol: { ...loopback, headerTimeout: "200 millis" } })
        const started = yield* Clock.currentTimeMillis
        const error = yield* rejected(server, v1(client4, front4).subarray(0, 20))
        const elapsed = (yield* Clock.currentTimeMillis) - started
        assert.strictEqual(error._tag, "TimeoutError")
        assert.isTrue(OSError.isOSError(error))
        assert.strictEqual(error.code, "ETIMEDOUT")
        assert.strictEqual(error.syscall, "accept")
        assert.include(error.message, "no PROXY protocol header within 0.2s")
        assert.isAtLeast(elapsed, 150)
        assert.isBelow(elapsed, 5_000)
      }))

    test("serve logs a rejected header with the connection's id and peer, serves the next, and logs the client as peer", () => {
      const { layer: logger, logs } = capture()
      return Effect.gen(function*() {
        const server = yield* Tcp.listen({ proxyProtocol: loopback })
        yield* Effect.forkScoped(server.serve((connection) =>
          Effect.andThen(
            Effect.logInfo("served"),
            connection.stream.pipe(Stream.run(connection.sink), Effect.andThen(connection.end))
          )
        ))
        const bad = yield* Tcp.connect({ port: server.address.port })
        yield* bad.write("hello\r\n")
        assert.strictEqual((yield* Effect.flip(readAll(bad)))._tag, "ConnectionResetError")
        const logged = yield* eventually(
          Effect.sync(() => logs.find((log) => log.annotations.error !== undefined)),
          (log) => log !== undefined
        )
        assert.deepStrictEqual(logged!.message, ["PROXY header rejected"])
        assert.strictEqual(logged!.annotations.error, "ProxyHeaderError")
        assert.strictEqual(logged!.annotations.reason, "malformed")
        assert.strictEqual(logged!.annotations.code, "EPROTO")
        assert.include(String(logged!.annotations.errorMessage), `no signature at the start: "hello\\r\\n"`)
        assert.strictEqual(logged!.annotations.peer, Address.format(bad.localAddress))
        assert.isNumber(logged!.annotations.connectionId)
        const good = yield* Tcp.connect({ port: server.address.port })
        yield* good.writeAll([v2({ source: client6, destination: front6 }), "echo me"])
        yield* good.end
        assert.strictEqual(yield* readAll(good), "echo me")
        const served = logs.find((log) => Array.isArray(log.message) && log.message[0] === "served")
        assert.strictEqual(served?.annotations.peer, "[2001:db8::7]:40000")
        assert.strictEqual(served?.annotations.proxy, Address.format(good.localAddress))
        // the rejected one counts as accepted and failed, the served one as accepted only
        const stats = yield* eventually(server.stats, (stats) => stats.active === 0)
        assert.deepStrictEqual(stats, { active: 0, accepted: 2, rejected: 0, failed: 1 })
      }).pipe(Effect.provide(logger))
    })

    test("errors of a proxied connection name the client, as its remoteAddress does", () =>
      Effect.gen(function*() {
        const { proxy, server } = yield* proxied(v1(client4, front4))
        const accepted = yield* server.accept
        yield* proxy.reset
        const error = yield* Effect.flip(readAll(accepted))
        assert.strictEqual(error._tag, "ConnectionResetError")
        assert.strictEqual(error.host, client4.host)
        assert.strictEqual(error.port, client4.port)
      }))

    test("TLS behind the PROXY protocol: the header first on the wire, then the handshake", () =>
      Effect.gen(function*() {
        const server = yield* Tcp.listen({
          tls: { cert: certs.server.cert, key: certs.server.key },
          proxyProtocol: loopback
        })
        const proxy = yield* Tcp.connect({ port: server.address.port })
        yield* proxy.write(v2({ source: client4, destination: front4 }))
        const accepting = yield* Effect.forkChild(server.accept)
        const secure = yield* Tls.startTls(proxy, { role: "client", ca: certs.ca })
        const accepted = yield* Fiber.join(accepting)
        assert.strictEqual(accepted.tls?.protocol, "TLSv1.3")
        assert.deepStrictEqual(accepted.remoteAddress, client4)
        assert.strictEqual(accepted.proxy?.version, 2)
        yield* secure.write("over TLS")
        yield* secure.end
        assert.strictEqual(yield* readAll(accepted), "over TLS")
        assert.strictEqual(yield* accepted.bytesRead, 8)
        // plaintext after the header, where TLS was expected, fails the handshake
        const failing = yield* Effect.forkChild(Effect.flip(server.accept))
        yield* Effect.sleep(20)
        const plain = yield* Tcp.connect({ port: server.address.port })
        yield* plain.writeAll([v1(client4, front4), "hello\n"])
        const failed = yield* Fiber.join(failing)
        assert.strictEqual(failed._tag, "SSLError")
        assert.strictEqual(failed.host, client4.host, "the error names the client")
      }))

    test("STARTTLS on a connection behind the PROXY protocol keeps its client and proxy", () =>
      Effect.gen(function*() {
        const { proxy, server } = yield* proxied(v1(client4, front4))
        const plain = yield* server.accept
        const upgrading = yield* Effect.forkChild(Tls.startTls(proxy, { role: "client", ca: certs.ca }))
        const secure = yield* Tls.startTls(plain, { role: "server", cert: certs.server.cert, key: certs.server.key })
        const client = yield* Fiber.join(upgrading)
        assert.deepStrictEqual(secure.remoteAddress, client4)
        assert.deepStrictEqual(secure.proxy, plain.proxy)
        yield* client.write("over TLS")
        yield* client.end
        assert.strictEqual(yield* readAll(secure), "over TLS")
      }))

    test("bad options fail listen with OSError EINVAL naming them, before anything binds", () =>
      Effect.gen(function*() {
        const cases: ReadonlyArray<readonly [Tcp.ListenOptions, string]> = [
          [
            { proxyProtocol: { trusted: ["10.0.0.1/8"] } },
            `"10.0.0.1/8" is not a CIDR range: address has non-zero host bits`
          ],
          [{ proxyProtocol: { trusted: ["10.0.0.0/33"] } }, `"10.0.0.0/33" is not a CIDR range`],
          [{ proxyProtocol: { trusted: ["proxy.example"] } }, `"proxy.example" is not a CIDR range`],
          [{ proxyProtocol: { trusted: [] } }, "proxyProtocol.trusted must list at least one CIDR range"],
          [{ proxyProtocol: { trusted: ["::1"], headerTimeout: 0 } }, "proxyProtocol.headerTimeout must be above zero"],
          [
            { path: "/tmp/effect-tcp-proxy.sock", proxyProtocol: loopback } as unknown as Tcp.ListenOptions,
            "proxyProtocol is not offered over a Unix socket (TCP only)"
          ]
        ]
        for (const [options, detail] of cases) {
          const error = yield* Effect.flip(Tcp.listen(options))
          assert.strictEqual(error._tag, "OSError", detail)
          assert.strictEqual(error.code, "EINVAL", detail)
          assert.include(error.message, detail)
        }
        // a single address is a range of one
        const server = yield* Tcp.listen({ proxyProtocol: { trusted: ["127.0.0.1", "::1"] } })
        const proxy = yield* Tcp.connect({ port: server.address.port })
        yield* proxy.write(v1(client4, front4))
        assert.deepStrictEqual((yield* server.accept).remoteAddress, client4)
      }))

    liveProperty(
      "property: however the header and what follows are cut, the connection is the same",
      scenario,
      runScenario,
      layer,
      options.runs
    )
  })
}

// --- the property test --------------------------------------------------------

interface Scenario {
  readonly header: Sent
  readonly payload: Uint8Array
  readonly cuts: ReadonlyArray<number>
  readonly split: number | undefined
  readonly readLimit: number
}

const scenario: fc.Arbitrary<Scenario> = fc.record({
  header: proxyHeader,
  payload: fc.uint8Array({ maxLength: 300 }),
  cuts: fc.array(fc.integer({ min: 1, max: 60 }), { maxLength: 12 }),
  split: fc.option(fc.integer({ min: 1, max: 9 }), { nil: undefined }),
  readLimit: fc.integer({ min: 1, max: 64 })
})

const runScenario = (input: Scenario) =>
  Effect.gen(function*() {
    yield* cutWrites(input.split)
    const server = yield* Tcp.listen({ proxyProtocol: loopback, readLimit: input.readLimit })
    const proxy = yield* Tcp.connect({ port: server.address.port })
    const wire = concat([input.header.bytes, input.payload])
    yield* Effect.forkScoped(Effect.gen(function*() {
      let at = 0
      for (const cut of input.cuts) {
        if (at >= wire.length) break
        yield* proxy.write(wire.subarray(at, at + cut))
        at += cut
        // a turn of the event loop between pieces: on loopback they arrive as reads of their own
        yield* Effect.sleep(0)
      }
      if (at < wire.length) yield* proxy.write(wire.subarray(at))
      yield* proxy.end
    }))
    const accepted = yield* server.accept
    assert.deepStrictEqual(accepted.remoteAddress, input.header.source)
    assert.deepStrictEqual(accepted.proxy?.destination, input.header.destination)
    assert.strictEqual(accepted.proxy?.version, input.header.version)
    const chunks = yield* Stream.runCollect(accepted.stream)
    assert.isTrue(chunks.every((chunk) => chunk.length <= input.readLimit), "no batch beyond the read limit")
    assert.deepStrictEqual(Array.from(concat(chunks)), Array.from(input.payload))
    assert.strictEqual(yield* accepted.bytesRead, input.payload.length)
  })
