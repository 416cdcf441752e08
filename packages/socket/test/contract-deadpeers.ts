// The contract of noticing dead peers, run on both layers from contract.test.ts:
// the client's idle timeout, keepalive's and TCP_USER_TIMEOUT's settings as the
// kernel reads them back, and each noticing a peer that stopped answering.
//
// Two kinds of dead peer, made for each layer by `deadPeers` below:
//   vanished  its host or network is gone: nothing it is sent is answered. On
//             loopback, a socket filter on the server's socket that drops every
//             packet (Linux); on the fake network, `FakeNetwork.stall`.
//   stopped   its process hangs: its kernel still answers, but nothing is read.
//             On loopback, a server process of its own that gets SIGSTOP; on the
//             fake network, a server that stops reading.
// Keepalive notices only the first (a stopped process's kernel answers the
// probes); a user timeout notices both, once something sent goes unanswered.
import { assert, describe, it } from "@effect/vitest"
import { Clock, Duration, Effect, Fiber, Option, Scope, Stream } from "effect"
import type { Layer } from "effect"
import koffi from "koffi"
import * as ChildProcess from "node:child_process"
import * as Net from "node:net"
import * as Os from "node:os"
import type { Connection } from "../src/Connection.ts"
import { FakeNetwork } from "../src/FakeNetwork.ts"
import * as Tcp from "../src/Tcp.ts"
import { decode, encode, readAll, reader } from "./util.ts"

const errno = Os.constants.errno
const bounded = "10 seconds"
const linux = process.platform === "linux"

/** A server that echoes until `stop` makes it a dead peer. */
interface Peer {
  readonly port: number
  readonly stop: Effect.Effect<void>
}

interface DeadPeers {
  readonly vanished: Effect.Effect<Peer, never, Tcp.Tcp | Scope.Scope>
  readonly stopped: Effect.Effect<Peer, never, Tcp.Tcp | Scope.Scope>
}

// --- loopback ------------------------------------------------------------------

/** A classic BPF program of one instruction, `ret #0`: the socket takes no packet, so its kernel answers none. */
const dropEverything = (() => {
  let attach: ((fd: number, program: unknown) => number) | undefined
  return (socket: Net.Socket): void => {
    if (attach === undefined) {
      const SockFilter = koffi.struct("sock_filter", { code: "uint16", jt: "uint8", jf: "uint8", k: "uint32" })
      const SockFprog = koffi.struct("sock_fprog", { len: "uint16", filter: koffi.pointer(SockFilter) })
      const setsockopt = koffi.load(null).func("setsockopt", "int", [
        "int",
        "int",
        "int",
        koffi.pointer(SockFprog),
        "uint32"
      ])
      // SOL_SOCKET, SO_ATTACH_FILTER
      attach = (fd, program) => setsockopt(fd, 1, 26, program, 16)
    }
    const fd = (socket as unknown as { readonly _handle: { readonly fd: number } })._handle.fd
    const result = attach(fd, { len: 1, filter: [{ code: 0x06, jt: 0, jf: 0, k: 0 }] })
    if (result !== 0) throw new Error(`SO_ATTACH_FILTER failed: errno ${koffi.errno()}`)
  }
})()

const loopbackVanished: DeadPeers["vanished"] = Effect.acquireRelease(
  Effect.callback<{ readonly server: Net.Server; readonly sockets: Set<Net.Socket> }>((resume) => {
    const sockets = new Set<Net.Socket>()
    const server = Net.createServer((socket) => {
      sockets.add(socket)
      socket.on("error", () => {}).on("close", () => sockets.delete(socket))
      socket.pipe(socket)
    })
    server.listen(0, "127.0.0.1", () => resume(Effect.succeed({ server, sockets })))
  }),
  ({ server, sockets }) =>
    Effect.sync(() => {
      for (const socket of sockets) socket.destroy()
      server.close()
    })
).pipe(Effect.map(({ server, sockets }) => ({
  port: (server.address() as Net.AddressInfo).port,
  stop: Effect.sync(() => sockets.forEach(dropEverything))
})))

const fixture = new URL("./fixtures/echo-server.ts", import.meta.url).pathname

const loopbackStopped: DeadPeers["stopped"] = Effect.acquireRelease(
  Effect.callback<{ readonly child: ChildProcess.ChildProcess; readonly port: number }>((resume) => {
    const child = ChildProcess.spawn(process.execPath, [fixture], { stdio: ["ignore", "pipe", "inherit"] })
    child.once("error", (error) => resume(Effect.die(error)))
    child.stdout!.once("data", (line) => resume(Effect.succeed({ child, port: Number(String(line).trim()) })))
  }),
  ({ child }) =>
    Effect.callback<void>((resume) => {
      if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.void)
      child.once("exit", () => resume(Effect.void))
      child.kill("SIGKILL") // a stopped process dies of it too
    })
).pipe(Effect.map(({ child, port }) => ({ port, stop: Effect.sync(() => void child.kill("SIGSTOP")) })))

// --- fake network --------------------------------------------------------------

const echo = (connection: Connection) => Stream.run(connection.stream, connection.sink)

// (Its handlers are stuck once the peer is dead: the server does not wait for them when the test ends.)
const fakeVanished = (network: FakeNetwork["Service"]): DeadPeers["vanished"] =>
  Effect.gen(function*() {
    const server = yield* Effect.orDie(Tcp.listen({ shutdownGrace: 0 }))
    // (once the network is back it sees the reset the client's kernel sent when it gave up)
    yield* Effect.forkScoped(server.serve((connection) => Effect.ignore(echo(connection))))
    yield* Effect.addFinalizer(() => network.stall(false))
    return { port: server.address.port, stop: network.stall(true) }
  })

const fakeStopped: DeadPeers["stopped"] = Effect.gen(function*() {
  const server = yield* Effect.orDie(Tcp.listen({ shutdownGrace: 0 }))
  let stopped = false
  yield* Effect.forkScoped(server.serve((connection) =>
    connection.stream.pipe(
      Stream.mapEffect((chunk) => stopped ? Effect.never : Effect.succeed(chunk)),
      Stream.run(connection.sink)
    )
  ))
  return {
    port: server.address.port,
    stop: Effect.sync(() => {
      stopped = true
    })
  }
})

/** The dead peers of the layer under test: the fake network's where it is provided, else loopback's. */
const deadPeers: Effect.Effect<DeadPeers> = Effect.map(
  Effect.serviceOption(FakeNetwork),
  (network) =>
    Option.isSome(network)
      ? { vanished: fakeVanished(network.value), stopped: fakeStopped }
      : { vanished: loopbackVanished, stopped: loopbackStopped }
)

// --- helpers -------------------------------------------------------------------

/** One round trip, which also proves the peer alive; the reader reads on. */
const roundTrip = (client: Connection) =>
  Effect.gen(function*() {
    const read = yield* reader(client)
    yield* client.write(encode("ping"))
    assert.strictEqual(decode(yield* read.read(4)), "ping")
    return read
  })

const since = (started: number) => Effect.map(Clock.currentTimeMillis, (now) => now - started)

const chunk = new Uint8Array(64 * 1024)

/** Writes until a write fails: the error of the one waiting when the connection failed. */
const writeUntilFailure = (client: Connection) => Effect.flip(Effect.forever(client.write(chunk)))

const assertDeadPeer = (error: { readonly _tag: string; readonly errno: number; readonly message: string }) => {
  assert.strictEqual(error._tag, "TimeoutError")
  assert.strictEqual(error.errno, errno.ETIMEDOUT)
  assert.include(error.message, "the peer stopped answering")
}

export const contractDeadPeers = (name: string, layer: Layer.Layer<Tcp.Tcp>): void => {
  const test = (title: string, body: () => Effect.Effect<void, unknown, Tcp.Tcp | Scope.Scope>) =>
    it.live(title, () => body().pipe(Effect.scoped, Effect.provide(layer), Effect.timeout(bounded)))
  // TCP_USER_TIMEOUT, and the socket filter that makes a vanished peer on loopback, are Linux's
  const linuxTest = linux ? test : (title: string, _body: unknown) => it.skip(title, () => {})

  describe(`Dead peers contract: ${name}`, () => {
    test("client idleTimeout: a silent server fails the client's reads with TimeoutError, and is closed", () =>
      Effect.gen(function*() {
        const server = yield* Tcp.listen()
        const client = yield* Tcp.connect({ port: server.address.port, idleTimeout: "200 millis" })
        const accepted = yield* server.accept
        const started = yield* Clock.currentTimeMillis
        const error = yield* Effect.flip(readAll(client))
        assert.isAtLeast(yield* since(started), 150)
        assert.strictEqual(error._tag, "TimeoutError")
        assert.strictEqual(error.errno, errno.ETIMEDOUT)
        assert.strictEqual(error.syscall, "read")
        assert.strictEqual(error.detail, "idle for 0.2s")
        // the server sees the client's close
        assert.strictEqual(yield* readAll(accepted), "")
      }))

    test("client idleTimeout: a server that keeps talking keeps the connection open", () =>
      Effect.gen(function*() {
        const server = yield* Tcp.listen()
        const client = yield* Tcp.connect({ port: server.address.port, idleTimeout: "200 millis" })
        const accepted = yield* server.accept
        // 600 ms of traffic, a tick every 50 ms: three idle timeouts' worth, never idle for one
        yield* Effect.forkScoped(
          Effect.repeat(Effect.andThen(accepted.write("tick"), Effect.sleep("50 millis")), { times: 11 })
        )
        const read = yield* reader(client)
        assert.strictEqual(decode(yield* read.read(48)), "tick".repeat(12))
        // then silence
        const error = yield* Effect.flip(read.rest)
        assert.strictEqual(error._tag, "TimeoutError")
      }))

    test("client idleTimeout: a write waiting on a server that never reads fails with TimeoutError", () =>
      Effect.gen(function*() {
        const server = yield* Tcp.listen()
        const client = yield* Tcp.connect({ port: server.address.port, idleTimeout: "300 millis" })
        yield* server.accept
        const error = yield* writeUntilFailure(client)
        assert.strictEqual(error._tag, "TimeoutError")
        assert.strictEqual(error.errno, errno.ETIMEDOUT)
        assert.strictEqual(error.detail, "idle for 0.3s")
      }))

    linuxTest(
      "options read back keepalive's idle, interval and count, and the user timeout, as set",
      () =>
        Effect.gen(function*() {
          const server = yield* Tcp.listen({ keepAlive: "7 seconds", userTimeout: "2 seconds" })
          const client = yield* Tcp.connect({
            port: server.address.port,
            keepAlive: { idle: "5 seconds", interval: "2 seconds", count: 3 },
            userTimeout: "1500 millis"
          })
          const accepted = yield* server.accept
          const mine = yield* client.options
          assert.isTrue(mine.keepAlive)
          assert.deepStrictEqual(
            [mine.keepAliveIdle, mine.keepAliveInterval, mine.keepAliveCount, mine.userTimeout],
            [Duration.seconds(5), Duration.seconds(2), 3, Duration.millis(1500)]
          )
          const theirs = yield* accepted.options
          assert.isTrue(theirs.keepAlive)
          assert.deepStrictEqual([theirs.keepAliveIdle, theirs.userTimeout], [Duration.seconds(7), Duration.seconds(2)])
          // without them: keepalive off, no user timeout
          const plain = yield* (yield* Tcp.connect({ port: server.address.port })).options
          assert.isFalse(plain.keepAlive)
          assert.deepStrictEqual(plain.userTimeout, Duration.zero)
          // an idle time alone: Node's libuv sets an interval of 1 second and 10 probes with it
          const idleOnly = yield* (yield* Tcp.connect({ port: server.address.port, keepAlive: "30 seconds" })).options
          assert.deepStrictEqual(
            [idleOnly.keepAliveIdle, idleOnly.keepAliveInterval, idleOnly.keepAliveCount],
            [Duration.seconds(30), Duration.seconds(1), 10]
          )
          // a duration object is keepalive's idle time; an empty object is keepalive with the system's times
          const object = yield* (yield* Tcp.connect({ port: server.address.port, keepAlive: { seconds: 30 } })).options
          assert.deepStrictEqual([object.keepAlive, object.keepAliveIdle], [true, Duration.seconds(30)])
          assert.isTrue((yield* (yield* Tcp.connect({ port: server.address.port, keepAlive: {} })).options).keepAlive)
        })
    )

    test("out-of-range keepalive and user timeout fail with OSError EINVAL naming the option, before connecting", () =>
      Effect.gen(function*() {
        const server = yield* Tcp.listen()
        const port = server.address.port
        const cases: ReadonlyArray<readonly [Tcp.SocketSettings, string]> = [
          [{ keepAlive: { idle: "1500 millis" } }, "keepAlive.idle must be whole seconds from 1s to 32767s"],
          [{ keepAlive: { interval: 0 } }, "keepAlive.interval must be whole seconds"],
          [{ keepAlive: { interval: "10 hours" } }, "keepAlive.interval must be whole seconds"],
          [{ keepAlive: { count: 0 } }, "keepAlive.count must be a whole number from 1 to 127, not 0"],
          [{ keepAlive: { count: 128 } }, "keepAlive.count must be a whole number from 1 to 127, not 128"],
          [{ keepAlive: "500 millis" }, "keepAlive must be whole seconds from 1s to 32767s (TCP_KEEPIDLE counts"],
          [{ userTimeout: 0 }, "userTimeout must be whole milliseconds from 1ms"],
          [{ userTimeout: "1500 micros" }, "userTimeout must be whole milliseconds from 1ms"]
        ]
        for (const [options, detail] of cases) {
          const error = yield* Effect.flip(Tcp.connect({ port, ...options }))
          assert.strictEqual(error._tag, "OSError")
          assert.strictEqual(error.code, "EINVAL")
          assert.strictEqual(error.syscall, "connect")
          assert.include(error.detail, detail)
        }
        const listening = yield* Effect.flip(Tcp.listen({ keepAlive: { count: 1.5 } }))
        assert.deepInclude(listening, { _tag: "OSError", code: "EINVAL", syscall: "listen" })
        assert.include(listening.message, "keepAlive.count must be a whole number from 1 to 127, not 1.5")
        assert.strictEqual((yield* server.stats).accepted, 0)
      }))

    linuxTest(
      "userTimeout: a peer whose host vanished fails the waiting write and the read with TimeoutError",
      () =>
        Effect.gen(function*() {
          const peer = yield* (yield* deadPeers).vanished
          const client = yield* Tcp.connect({ port: peer.port, userTimeout: "1 second" })
          const read = yield* roundTrip(client)
          yield* peer.stop
          const started = yield* Clock.currentTimeMillis
          const writing = yield* Effect.forkScoped(writeUntilFailure(client))
          const readError = yield* Effect.flip(read.rest)
          const writeError = yield* Fiber.join(writing)
          const elapsed = yield* since(started)
          assertDeadPeer(readError)
          assert.strictEqual(readError.syscall, "read")
          assertDeadPeer(writeError)
          assert.isAtLeast(elapsed, 900)
          assert.isBelow(elapsed, 6000)
        })
    )

    linuxTest(
      "keepAlive: a quiet peer whose host vanished fails the read with TimeoutError after idle + interval × count",
      () =>
        Effect.gen(function*() {
          const peer = yield* (yield* deadPeers).vanished
          const client = yield* Tcp.connect({
            port: peer.port,
            keepAlive: { idle: "1 second", interval: "1 second", count: 2 }
          })
          const read = yield* roundTrip(client)
          yield* peer.stop
          const started = yield* Clock.currentTimeMillis
          const error = yield* Effect.flip(read.rest)
          const elapsed = yield* since(started)
          assertDeadPeer(error)
          // probes from 1 s of silence, the connection given up 2 unanswered probes later
          assert.isAtLeast(elapsed, 2500)
          assert.isBelow(elapsed, 6000)
        })
    )

    test("keepAlive: a peer that is only quiet answers the probes, and the connection stays", () =>
      Effect.gen(function*() {
        const server = yield* Tcp.listen()
        yield* Effect.forkScoped(server.serve(echo))
        const client = yield* Tcp.connect({
          port: server.address.port,
          keepAlive: { idle: "1 second", interval: "1 second", count: 1 }
        })
        const read = yield* roundTrip(client)
        // past the time unanswered probes would take (2 s)
        yield* Effect.sleep("2500 millis")
        yield* client.write(encode("pong"))
        assert.strictEqual(decode(yield* read.read(4)), "pong")
      }))

    linuxTest(
      "userTimeout: a stopped peer process (its kernel answers, nothing reads) fails the waiting write",
      () =>
        Effect.gen(function*() {
          const peer = yield* (yield* deadPeers).stopped
          const client = yield* Tcp.connect({ port: peer.port, userTimeout: "1 second" })
          const read = yield* roundTrip(client)
          yield* peer.stop
          const started = yield* Clock.currentTimeMillis
          const writeError = yield* writeUntilFailure(client)
          assertDeadPeer(writeError)
          assertDeadPeer(yield* Effect.flip(read.rest))
          const elapsed = yield* since(started)
          assert.isAtLeast(elapsed, 900)
          assert.isBelow(elapsed, 8000)
        })
    )

    linuxTest(
      "userTimeout: a peer that keeps up is never given up on, nor a connection with nothing to send",
      () =>
        Effect.gen(function*() {
          const server = yield* Tcp.listen()
          yield* Effect.forkScoped(server.serve(echo))
          const client = yield* Tcp.connect({ port: server.address.port, userTimeout: "300 millis" })
          const read = yield* reader(client)
          for (let i = 0; i < 20; i++) {
            yield* client.write(encode(`m${i % 10}`))
            assert.strictEqual(decode(yield* read.read(2)), `m${i % 10}`)
            yield* Effect.sleep("50 millis")
          }
          // silence, with nothing unacknowledged, is not a dead peer
          yield* Effect.sleep("600 millis")
          yield* client.write(encode("ok"))
          assert.strictEqual(decode(yield* read.read(2)), "ok")
        })
    )
  })
}
