// What only the fake network does: scripted faults, the wire log, and time on
// the TestClock (latency, connect and idle timeouts, shutdown grace) in no real time.
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Exit, Fiber, Logger, Option, References, Scope, Stream } from "effect"
import { TestClock } from "effect/testing"
import * as Os from "node:os"
import { FakeNetwork } from "../src/FakeNetwork.ts"
import type * as SocketOptions from "../src/SocketOptions.ts"
import * as Tcp from "../src/Tcp.ts"
import { certificates } from "./tls/certs.ts"
import { decode, encode, readAll, reader } from "./util.ts"

const fake = <A, E>(self: Effect.Effect<A, E, Tcp.Tcp | FakeNetwork | Scope.Scope>): Effect.Effect<A, E> =>
  self.pipe(Effect.scoped, Effect.provide(Tcp.layerTest))

/** A listener and a connected pair: the client and the accepted end. */
const pair = (
  options?: Tcp.TcpListenOptions & Tcp.CommonListenOptions,
  connect?: Omit<Tcp.TcpConnectOptions, "port"> & Tcp.CommonConnectOptions
) =>
  Effect.gen(function*() {
    const server = yield* Tcp.listen(options)
    const client = yield* Tcp.connect({ ...connect, port: server.address.port })
    const accepted = yield* server.accept
    return { server, client, accepted }
  })

describe("FakeNetwork faults", () => {
  it.effect("refuseNext: the next connects are refused even where something listens", () =>
    fake(Effect.gen(function*() {
      const network = yield* FakeNetwork
      const server = yield* Tcp.listen()
      const other = yield* Tcp.listen()
      const port = server.address.port
      yield* network.refuseNext(2, port)
      // only connects to that port are refused
      yield* Tcp.connect({ port: other.address.port })
      for (let i = 0; i < 2; i++) {
        const error = yield* Effect.flip(Tcp.connect({ port }))
        assert.strictEqual(error._tag, "ConnectionRefusedError")
        assert.strictEqual(error.errno, Os.constants.errno.ECONNREFUSED)
        assert.strictEqual(error.port, port)
      }
      yield* Tcp.connect({ port })
      assert.strictEqual((yield* server.stats).accepted, 1)
    })))

  it.effect("resetAfter: the connection is reset both ways once that many bytes crossed it", () =>
    fake(Effect.gen(function*() {
      const network = yield* FakeNetwork
      yield* network.resetAfter(5)
      const { accepted, client } = yield* pair()
      const writeError = yield* Effect.flip(client.write(encode("hello world")))
      assert.strictEqual(writeError._tag, "ConnectionResetError")
      const read = yield* reader(accepted)
      assert.strictEqual(decode(yield* read.read(5)), "hello")
      const readError = yield* Effect.flip(read.rest)
      assert.strictEqual(readError._tag, "ConnectionResetError")
      assert.strictEqual(readError.errno, Os.constants.errno.ECONNRESET)
      assert.strictEqual((yield* Effect.flip(Stream.runDrain(client.stream)))._tag, "ConnectionResetError")
      assert.strictEqual((yield* Effect.flip(accepted.write(encode("x"))))._tag, "BrokenPipeError")
      // only connections made while it was set
      yield* network.resetAfter(undefined)
      const fresh = yield* pair()
      yield* fresh.client.write(encode("hello world"))
      yield* fresh.client.end
      assert.strictEqual(yield* readAll(fresh.accepted), "hello world")
    })))

  it.effect("stall: nothing is delivered, the writer backs up at the read limit, resume delivers it all", () =>
    fake(Effect.gen(function*() {
      const network = yield* FakeNetwork
      const { accepted, client } = yield* pair({ readLimit: 1024 })
      yield* network.stall(true)
      const writer = yield* Effect.forkChild(client.write(new Uint8Array(4096).fill(1)))
      const received = yield* Effect.forkChild(
        Stream.runFold(accepted.stream, () => 0, (n, bytes) => n + bytes.length)
      )
      yield* TestClock.adjust("1 hour")
      assert.isUndefined(writer.pollUnsafe())
      assert.strictEqual(yield* client.bytesWritten, 1024)
      assert.strictEqual(yield* accepted.bytesRead, 0)
      yield* network.stall(false)
      yield* Fiber.join(writer)
      yield* client.end
      assert.strictEqual(yield* Fiber.join(received), 4096)
    })))

  it.effect("splitWrites: every write arrives in chunks of at most that size", () =>
    fake(Effect.gen(function*() {
      const network = yield* FakeNetwork
      yield* network.splitWrites(5)
      const { accepted, client } = yield* pair()
      yield* client.write(encode("Hello World!"))
      yield* client.end
      const chunks = yield* Stream.runCollect(accepted.stream)
      assert.deepStrictEqual(chunks.map(decode), ["Hello", " Worl", "d!"])
    })))

  it.effect("latency: deliveries and connects wait on the Clock", () =>
    fake(Effect.gen(function*() {
      const network = yield* FakeNetwork
      const server = yield* Tcp.listen()
      yield* network.latency("1 second")
      const connecting = yield* Effect.forkChild(Tcp.connect({ port: server.address.port }))
      yield* TestClock.adjust("999 millis")
      assert.isUndefined(connecting.pollUnsafe())
      yield* TestClock.adjust("1 millis")
      const client = yield* Fiber.join(connecting)
      const accepted = yield* server.accept
      const read = yield* reader(accepted)
      yield* client.write(encode("ping"))
      const reading = yield* Effect.forkChild(read.read(4))
      yield* TestClock.adjust("500 millis")
      assert.isUndefined(reading.pollUnsafe())
      yield* TestClock.adjust("500 millis")
      assert.strictEqual(decode(yield* Fiber.join(reading)), "ping")
    })))

  it.effect("connect timeout: TimeoutError when the connect takes longer than asked", () =>
    fake(Effect.gen(function*() {
      const network = yield* FakeNetwork
      const server = yield* Tcp.listen()
      yield* network.latency("10 seconds")
      const connecting = yield* Effect.forkChild(
        Effect.flip(Tcp.connect({ port: server.address.port, timeout: "3 seconds" }))
      )
      yield* TestClock.adjust("3 seconds")
      const error = yield* Fiber.join(connecting)
      assert.strictEqual(error._tag, "TimeoutError")
      assert.strictEqual(error.code, "ETIMEDOUT")
      assert.strictEqual(error.errno, Os.constants.errno.ETIMEDOUT)
      assert.strictEqual(error.syscall, "connect")
      assert.strictEqual(error.port, server.address.port)
      assert.strictEqual((yield* server.stats).accepted, 0)
    })))

  it.effect("wireLog: what crossed the wire, in order, with its addresses", () =>
    fake(Effect.gen(function*() {
      const network = yield* FakeNetwork
      const { accepted, client } = yield* pair()
      yield* client.write(encode("hi"))
      yield* client.end
      yield* accepted.write(encode("bye"))
      yield* accepted.reset
      const log = yield* network.wireLog
      assert.deepStrictEqual(
        log.map((event) => [event.connection, event.kind, event.bytes === undefined ? null : decode(event.bytes)]),
        [
          [client.id, "connect", null],
          [client.id, "data", "hi"],
          [client.id, "fin", null],
          [accepted.id, "data", "bye"],
          [accepted.id, "reset", null]
        ]
      )
      assert.deepStrictEqual(log[1]!.from, client.localAddress)
      assert.deepStrictEqual(log[1]!.to, client.remoteAddress)
    })))
})

describe("fake network on the TestClock", () => {
  it.effect("idle timeout: runs on the Clock, and traffic either way keeps the connection alive", () =>
    fake(Effect.gen(function*() {
      const { accepted, client } = yield* pair({ idleTimeout: "30 seconds" })
      const read = yield* reader(accepted)
      const reading = yield* Effect.forkChild(Effect.flip(read.rest))
      yield* TestClock.adjust("20 seconds")
      yield* accepted.write(encode("keepalive")) // the server's own write counts as traffic
      yield* TestClock.adjust("29 seconds")
      assert.isUndefined(reading.pollUnsafe())
      yield* TestClock.adjust("1 second")
      const error = yield* Fiber.join(reading)
      assert.strictEqual(error._tag, "TimeoutError")
      assert.strictEqual(error.syscall, "read")
      // the client side has no idle timeout
      const clientRead = yield* reader(client)
      assert.strictEqual(decode(yield* clientRead.read(9)), "keepalive")
    })))

  it.effect("closing does not wait (closeTimeout): what was written, still in flight, arrives before a clean end", () =>
    fake(Effect.gen(function*() {
      const network = yield* FakeNetwork
      const server = yield* Tcp.listen()
      yield* network.latency("1 second")
      const scope = yield* Scope.make()
      const connecting = yield* Effect.forkChild(
        Tcp.connect({ port: server.address.port, closeTimeout: "1 minute" }).pipe(Scope.provide(scope))
      )
      yield* TestClock.adjust("1 second")
      const client = yield* Fiber.join(connecting)
      const accepted = yield* server.accept
      yield* client.write(encode("in flight"))
      // the close returns at once, with nothing waiting in the process
      yield* Scope.close(scope, Exit.void)
      assert.strictEqual(yield* accepted.bytesRead, 0)
      const reading = yield* Effect.forkChild(readAll(accepted))
      yield* TestClock.adjust("1 second")
      assert.strictEqual(yield* Fiber.join(reading), "in flight")
      assert.strictEqual(yield* accepted.bytesRead, yield* client.bytesWritten)
    })))

  it.effect("shutdown grace: handlers get 10 seconds by default, then are interrupted", () =>
    fake(Effect.gen(function*() {
      const scope = yield* Scope.make()
      const server = yield* Tcp.listen().pipe(Scope.provide(scope))
      let interrupted = false
      yield* server.serve(() => Effect.never.pipe(Effect.onInterrupt(() => Effect.sync(() => (interrupted = true)))))
        .pipe(Effect.forkIn(scope))
      const client = yield* Tcp.connect({ port: server.address.port })
      yield* Effect.yieldNow
      const closing = yield* Effect.forkChild(Scope.close(scope, Exit.void))
      yield* TestClock.adjust("9999 millis")
      assert.isFalse(interrupted)
      assert.isUndefined(closing.pollUnsafe())
      yield* TestClock.adjust("1 millis")
      yield* Fiber.join(closing)
      assert.isTrue(interrupted)
      assert.strictEqual(yield* readAll(client), "")
    })))

  it.effect("a handler's failure is logged as a warning with its typed error", () =>
    Effect.gen(function*() {
      const logged: Array<{ level: string; annotations: Record<string, unknown> }> = []
      const collector = Logger.make((options) =>
        logged.push({ level: options.logLevel, annotations: options.fiber.getRef(References.CurrentLogAnnotations) })
      )
      yield* fake(Effect.gen(function*() {
        const server = yield* Tcp.listen()
        yield* Effect.forkScoped(server.serve((connection) =>
          Effect.flatMap(Stream.runDrain(connection.stream), () => Effect.fail("the peer left"))
        ))
        const client = yield* Tcp.connect({ port: server.address.port })
        const accepted = yield* Effect.flip(Stream.runDrain(client.stream)).pipe(Effect.forkChild)
        yield* client.reset
        yield* Effect.yieldNow
        yield* Fiber.interrupt(accepted)
      })).pipe(Effect.provide(Logger.layer([collector])))
      const warnings = logged.filter((entry) =>
        entry.level === "Warn"
      )
      assert.strictEqual(warnings.length, 1)
      assert.strictEqual(warnings[0]!.annotations.error, "ConnectionResetError")
      assert.strictEqual(warnings[0]!.annotations.code, "ECONNRESET")
    }))
})

describe("fake network addresses", () => {
  it.effect("a host ending in .invalid does not resolve", () =>
    fake(Effect.gen(function*() {
      const connectError = yield* Effect.flip(Tcp.connect({ host: "db.invalid", port: 5432 }))
      assert.strictEqual(connectError._tag, "AddressResolutionError")
      assert.strictEqual(connectError.host, "db.invalid")
      const listenError = yield* Effect.flip(Tcp.listen({ host: "db.invalid" }))
      assert.strictEqual(listenError._tag, "AddressResolutionError")
    })))

  it.effect("ports count up from 49152; localhost is 127.0.0.1; 0.0.0.0 takes every IPv4 host, :: every host", () =>
    fake(Effect.gen(function*() {
      const first = yield* Tcp.listen()
      const second = yield* Tcp.listen()
      assert.strictEqual(first.address.port, 49152)
      assert.strictEqual(second.address.port, 49153)
      const any = yield* Tcp.listen({ host: "0.0.0.0", port: 8888 })
      const client = yield* Tcp.connect({ host: "localhost", port: 8888 })
      assert.deepStrictEqual(client.remoteAddress, { host: "127.0.0.1", port: 8888, family: "IPv4" })
      const accepted = yield* any.accept
      assert.deepStrictEqual(accepted.localAddress, client.remoteAddress)
      // as on Linux: an IPv6 host is free beside 0.0.0.0, a dual-stack :: is not
      const v6 = yield* Tcp.listen({ host: "::1", port: 8888 })
      assert.deepStrictEqual(v6.address, { host: "::1", port: 8888, family: "IPv6" })
      const dual = yield* Tcp.listen({ host: "::", port: 8888 }).pipe(Effect.flip)
      assert.strictEqual(dual._tag, "AddressInUseError")
    })))

  it.effect("reusePort: listeners that all ask for it share the port; connections are spread", () =>
    fake(Effect.gen(function*() {
      const a = yield* Tcp.listen({ port: 9000, reusePort: true })
      const b = yield* Tcp.listen({ port: 9000, reusePort: true })
      assert.strictEqual((yield* Effect.flip(Tcp.listen({ port: 9000 })))._tag, "AddressInUseError")
      for (let i = 0; i < 4; i++) yield* Tcp.connect({ port: 9000 })
      assert.strictEqual((yield* a.stats).accepted, 2)
      assert.strictEqual((yield* b.stats).accepted, 2)
      const options = yield* (yield* a.accept).options
      assert.isTrue(options.reusePort)
      assert.isTrue(options.reuseAddress)
    })))

  it.effect("options report the buffer sizes asked for, as the kernel would", () =>
    fake(Effect.gen(function*() {
      const { accepted, client } = yield* pair(undefined, { receiveBufferSize: 4096, sendBufferSize: 8192 })
      const mine = yield* client.options
      const factor = process.platform === "linux" ? 2 : 1
      assert.strictEqual(mine.receiveBufferSize, 4096 * factor)
      assert.strictEqual(mine.sendBufferSize, 8192 * factor)
      const theirs = yield* accepted.options
      assert.isTrue(theirs.receiveBufferSize! > 0)
      assert.strictEqual(Option.isSome(Option.fromNullishOr(theirs.noDelay)), true)
    })))
})

describe("fake network Unix paths", () => {
  it.effect("unixPath shows a listener's socket file while it accepts; placeUnixPath and unixDirectory script the rest", () =>
    fake(Effect.gen(function*() {
      const network = yield* FakeNetwork
      const scope = yield* Scope.make()
      const server = yield* Tcp.listen({ path: "/run/app.sock", permissions: 0o600 }).pipe(Scope.provide(scope))
      assert.deepStrictEqual(yield* network.unixPath("/run/app.sock"), {
        kind: "socket",
        listening: true,
        permissions: 0o600
      })
      // another process replaces the file: the listener goes on, unreachable by path
      yield* network.placeUnixPath("/run/app.sock", "file")
      assert.strictEqual((yield* Effect.flip(Tcp.connect({ path: "/run/app.sock" })))._tag, "ConnectionRefusedError")
      assert.deepStrictEqual(yield* server.stats, { active: 0, accepted: 0, rejected: 0, failed: 0 })
      yield* network.placeUnixPath("/run/app.sock", undefined)
      assert.isUndefined(yield* network.unixPath("/run/app.sock"))
      assert.strictEqual((yield* Effect.flip(Tcp.connect({ path: "/run/app.sock" })))._tag, "FileNotFoundError")
      // its shutdown leaves the path alone: it is no longer the listener's
      yield* network.placeUnixPath("/run/app.sock", "stale-socket")
      yield* Scope.close(scope, Exit.void)
      assert.deepStrictEqual(yield* network.unixPath("/run/app.sock"), {
        kind: "socket",
        listening: false,
        permissions: 0o755
      })
      // a directory scripted missing or denied, then there again
      yield* network.unixDirectory("/srv", "denied")
      assert.strictEqual((yield* Effect.flip(Tcp.listen({ path: "/srv/a/b.sock" })))._tag, "PermissionError")
      yield* network.unixDirectory("/srv/a", "missing")
      // the directory nearest the root decides, as the kernel stops at the first it cannot enter
      assert.strictEqual((yield* Effect.flip(Tcp.listen({ path: "/srv/a/b.sock" })))._tag, "PermissionError")
      yield* network.unixDirectory("/srv", undefined)
      assert.strictEqual((yield* Effect.flip(Tcp.listen({ path: "/srv/a/b.sock" })))._tag, "FileNotFoundError")
      yield* network.unixDirectory("/srv/a", undefined)
      yield* Tcp.listen({ path: "/srv/a/b.sock" })
    })))

  it.effect("refuseNext without a port refuses the next connect to a Unix socket too", () =>
    fake(Effect.gen(function*() {
      const network = yield* FakeNetwork
      yield* Tcp.listen({ path: "/run/refused.sock" })
      yield* network.refuseNext(1)
      assert.strictEqual(
        (yield* Effect.flip(Tcp.connect({ path: "/run/refused.sock" })))._tag,
        "ConnectionRefusedError"
      )
      yield* Tcp.connect({ path: "/run/refused.sock" })
    })))
})

/** Keepalive's options as numbers: on, idle and interval in seconds, count. */
const keepAliveTimes = (options: SocketOptions.SocketOptions) => [
  options.keepAlive,
  Duration.toSeconds(options.keepAliveIdle!),
  Duration.toSeconds(options.keepAliveInterval!),
  options.keepAliveCount
]

describe("fake network: dead peers on the TestClock", () => {
  const probing = { idle: "10 seconds", interval: "5 seconds", count: 3 } as const

  it.effect("keepalive: on a stalled network, unanswered probes end the connection after idle + interval × count", () =>
    fake(Effect.gen(function*() {
      const network = yield* FakeNetwork
      const server = yield* Tcp.listen()
      const port = server.address.port
      const plain = yield* Tcp.connect({ port, keepAlive: probing })
      const accepted = yield* server.accept
      // with a user timeout, Linux gives up at the first probe past it: the third (25 s), not the ninth (55 s)
      const bounded = yield* Tcp.connect({ port, keepAlive: { ...probing, count: 9 }, userTimeout: "22 seconds" })
      // with something unacknowledged there are no probes (the kernel retransmits instead)
      const sending = yield* Tcp.connect({ port, keepAlive: probing })
      yield* network.stall(true)
      yield* sending.write(encode("lost"))
      const [plainRead, boundedRead, sendingRead] = yield* Effect.forEach(
        [plain, bounded, sending],
        (connection) => Effect.forkChild(Effect.flip(Stream.runDrain(connection.stream)))
      )
      yield* TestClock.adjust("24999 millis")
      assert.isUndefined(plainRead.pollUnsafe())
      assert.isUndefined(boundedRead.pollUnsafe())
      yield* TestClock.adjust("1 millis")
      for (const read of [plainRead, boundedRead]) {
        const error = yield* Fiber.join(read)
        assert.strictEqual(error._tag, "TimeoutError")
        assert.strictEqual(
          error.message,
          `[Errno ${Os.constants.errno.ETIMEDOUT}] Connection timed out: the peer stopped answering (127.0.0.1:${port})`
        )
      }
      yield* TestClock.adjust("1 hour")
      assert.isUndefined(sendingRead.pollUnsafe())
      // the kernel that gave up sent a reset: the peer sees it once the network is back
      yield* network.stall(false)
      assert.strictEqual((yield* Effect.flip(Stream.runDrain(accepted.stream)))._tag, "ConnectionResetError")
    })))

  it.effect("keepalive: probes answered before the stall count as hearing from the peer", () =>
    fake(Effect.gen(function*() {
      const network = yield* FakeNetwork
      const { client } = yield* pair(undefined, { keepAlive: probing })
      const reading = yield* Effect.forkChild(Effect.flip(Stream.runDrain(client.stream)))
      // the probe at 10 s is answered; the one at 20 s is not: given up at 20 s + 3 × 5 s
      yield* TestClock.adjust("13 seconds")
      yield* network.stall(true)
      yield* TestClock.adjust("21999 millis")
      assert.isUndefined(reading.pollUnsafe())
      yield* TestClock.adjust("1 millis")
      assert.strictEqual((yield* Fiber.join(reading))._tag, "TimeoutError")
    })))

  it.effect("userTimeout: a peer that takes nothing holds a write back; it is given up on unless it takes some", () =>
    fake(Effect.gen(function*() {
      const { accepted, client } = yield* pair(undefined, { userTimeout: "2 seconds" })
      // the accepted end reads slowly: 64 KiB (its read limit) go through, the rest is held back
      const writing = yield* Effect.forkChild(client.write(new Uint8Array(160 * 1024)))
      const pull = yield* Stream.toPull(accepted.stream)
      // each read is progress: held back for 3 s in all, never 2 s without progress
      yield* TestClock.adjust("1500 millis")
      yield* pull
      yield* TestClock.adjust("1500 millis")
      assert.isUndefined(writing.pollUnsafe())
      yield* pull
      // the rest goes through, and nothing is unacknowledged any more
      yield* Fiber.join(writing)
      yield* TestClock.adjust("1 hour")
      // held back again, with no progress this time
      const held = yield* Effect.forkChild(Effect.flip(client.write(new Uint8Array(64 * 1024))))
      yield* TestClock.adjust("1999 millis")
      assert.isUndefined(held.pollUnsafe())
      yield* TestClock.adjust("1 millis")
      const error = yield* Fiber.join(held)
      assert.strictEqual(error._tag, "TimeoutError")
      assert.strictEqual(error.detail, "the peer stopped answering")
    })))

  it.effect("userTimeout: on a slow link, data always in flight but delivered is progress", () =>
    fake(Effect.gen(function*() {
      const network = yield* FakeNetwork
      const { accepted, client } = yield* pair(undefined, { userTimeout: "2 seconds" })
      yield* network.latency("500 millis")
      yield* Effect.forkChild(Stream.runDrain(accepted.stream))
      // a write every 100 ms for 5 s: something is in flight all along, each segment delivered after 500 ms
      const writing = yield* Effect.forkChild(
        Effect.repeat(Effect.andThen(client.write(encode("tick")), Effect.sleep("100 millis")), { times: 49 })
      )
      yield* TestClock.adjust("5 seconds")
      yield* Fiber.join(writing)
      yield* client.write(encode("still here"))
    })))

  it.effect("userTimeout: a write interrupted while held back leaves nothing unacknowledged once the peer reads", () =>
    fake(Effect.gen(function*() {
      const { accepted, client } = yield* pair(undefined, { userTimeout: "2 seconds" })
      const held = yield* Effect.forkChild(client.write(new Uint8Array(96 * 1024)))
      yield* TestClock.adjust("1 second")
      yield* Fiber.interrupt(held)
      const pull = yield* Stream.toPull(accepted.stream)
      yield* pull
      const reading = yield* Effect.forkChild(Effect.flip(Stream.runDrain(client.stream)))
      yield* TestClock.adjust("1 hour")
      assert.isUndefined(reading.pollUnsafe())
      yield* client.write(encode("still here"))
    })))

  it.effect("userTimeout: what is sent on a stalled network is given up on once it was in flight that long", () =>
    fake(Effect.gen(function*() {
      const network = yield* FakeNetwork
      const { client } = yield* pair(undefined, { userTimeout: "2 seconds" })
      yield* network.stall(true)
      // quiet, with nothing unacknowledged: not a dead peer
      yield* TestClock.adjust("1 hour")
      yield* client.write(encode("lost"))
      const reading = yield* Effect.forkChild(Effect.flip(Stream.runDrain(client.stream)))
      yield* TestClock.adjust("1999 millis")
      assert.isUndefined(reading.pollUnsafe())
      yield* TestClock.adjust("1 millis")
      const error = yield* Fiber.join(reading)
      assert.strictEqual(error._tag, "TimeoutError")
      assert.strictEqual(error.syscall, "read")
    })))

  it.effect("options: keepalive's times as Linux and Node leave them, unless set", () =>
    fake(Effect.gen(function*() {
      const { client, server } = yield* pair()
      const port = server.address.port
      const optionsOf = (keepAlive: Tcp.ConnectOptions["keepAlive"]) =>
        Effect.flatMap(Tcp.connect({ port, keepAlive }), (connection) => connection.options)
      const plain = yield* client.options
      assert.deepStrictEqual(keepAliveTimes(plain), [false, 7200, 75, 9])
      assert.deepStrictEqual(plain.userTimeout, process.platform === "linux" ? Duration.zero : undefined)
      assert.deepStrictEqual(keepAliveTimes(yield* optionsOf(true)), [true, 7200, 75, 9])
      // Node's libuv sets an interval and a count with the idle time
      assert.deepStrictEqual(keepAliveTimes(yield* optionsOf("30 seconds")), [true, 30, 1, 10])
      assert.deepStrictEqual(keepAliveTimes(yield* optionsOf({ count: 4 })), [true, 7200, 75, 4])
    })))
})

describe("fake network: TLS and resets", () => {
  it.live("a TLS 1.3 client that resets the moment its handshake is done: the server reads ConnectionResetError", () =>
    Effect.gen(function*() {
      // the server's session tickets go out after the client's reset came: on a kernel its read meets the RST
      // first (ECONNRESET); the fake's wire would otherwise refuse the tickets' write first (EPIPE)
      const certs = certificates()
      const server = yield* Tcp.listen({ tls: { cert: certs.server.cert, key: certs.server.key } })
      const client = yield* Tcp.connect({ port: server.address.port, tls: { ca: certs.ca } })
      const accepted = yield* server.accept
      yield* client.reset
      const failed = yield* Effect.flip(readAll(accepted))
      assert.strictEqual(failed._tag, "ConnectionResetError")
      assert.strictEqual(failed.syscall, "read")
    }).pipe(Effect.scoped, Effect.provide(Tcp.layerTest), Effect.timeout("10 seconds")))
})
