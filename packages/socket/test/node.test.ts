// The Node layer on real sockets: 127.0.0.1, port 0 only, every test bounded.
// Each error tag is produced by the real situation that causes it.
import { assert, describe, it } from "@effect/vitest"
import { Cause, Deferred, Effect, Exit, Fiber, Logger, Option, References, Scope, Stream } from "effect"
import type { Layer } from "effect"
import * as Socket from "effect/socket/Socket"
import koffi from "koffi"
import * as ChildProcess from "node:child_process"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Url from "node:url"
import * as Address from "../src/Address.ts"
import * as Connection from "../src/Connection.ts"
import * as Tcp from "../src/Tcp.ts"
import { concat, decode, encode, readAll } from "./util.ts"

const errno = Os.constants.errno
const bounded = "15 seconds"

const live = (
  title: string,
  body: () => Effect.Effect<void, unknown, Tcp.Tcp | Scope.Scope>,
  layer: Layer.Layer<Tcp.Tcp> = Tcp.layer
) => it.live(title, () => body().pipe(Effect.scoped, Effect.provide(layer), Effect.timeout(bounded)))

/** Reads until `n` bytes have arrived. */
const readBytes = (connection: Connection.Connection, n: number) =>
  connection.stream.pipe(
    Stream.scan((): Uint8Array => new Uint8Array(0), (acc, chunk: Uint8Array) => concat([acc, chunk])),
    Stream.takeUntil((acc) => acc.length >= n),
    Stream.runLast,
    Effect.map((acc) => Option.getOrElse(acc, () => new Uint8Array(0)))
  )

const eventually = <A, E, R>(effect: Effect.Effect<A, E, R>, predicate: (a: A) => boolean) =>
  Effect.gen(function*() {
    while (true) {
      const a = yield* effect
      if (predicate(a)) return a
      yield* Effect.sleep(10)
    }
  })

/** A port where nothing listens: bound, noted, closed. */
const freePort = Effect.scoped(Effect.map(Tcp.listen(), (server) => server.address.port))

const tcpHandles = (): number =>
  process.getActiveResourcesInfo().filter((name) => name === "TCPSocketWrap" || name === "TCPServerWrap").length

// A listening socket that never accepts (Node always accepts), so its backlog fills and
// later SYNs are dropped by the kernel: the only way to make connect time out on loopback.
const rawListener = Effect.acquireRelease(
  Effect.sync(() => {
    const libc = koffi.load(null)
    const socket = libc.func("int socket(int, int, int)")
    const bind = libc.func("int bind(int, const uint8_t *, uint32)")
    const listen = libc.func("int listen(int, int)")
    const getsockname = libc.func("int getsockname(int, _Inout_ uint8_t *, _Inout_ uint32 *)")
    const close = libc.func("int close(int)")
    const fd: number = socket(2, 1, 0) // AF_INET, SOCK_STREAM
    const address = new Uint8Array(16) // sockaddr_in (Linux): family, port, 127.0.0.1
    address[0] = 2
    address.set([127, 0, 0, 1], 4)
    if (bind(fd, address, 16) !== 0 || listen(fd, 0) !== 0) throw new Error("raw listener failed")
    const bound = new Uint8Array(16)
    getsockname(fd, bound, [16])
    return { port: bound[2] * 256 + bound[3], close: () => close(fd) }
  }),
  (raw) => Effect.sync(() => raw.close())
)

describe("Node Tcp: each error from the situation that causes it", () => {
  live("refused: nothing listens on the port", () =>
    Effect.gen(function*() {
      const port = yield* freePort
      const error = yield* Effect.flip(Tcp.connect({ port }))
      assert.strictEqual(error._tag, "ConnectionRefusedError")
      assert.strictEqual(error.errno, errno.ECONNREFUSED)
      assert.strictEqual(error.code, "ECONNREFUSED")
      assert.strictEqual(error.syscall, "connect")
      assert.strictEqual(error.host, "127.0.0.1")
      assert.strictEqual(error.port, port)
      assert.strictEqual(error.message, `[Errno ${errno.ECONNREFUSED}] Connection refused (127.0.0.1:${port})`)
    }))

  live(
    "reset: the peer's reset fails reads with ConnectionResetError, then writes with BrokenPipeError",
    () =>
      Effect.gen(function*() {
        const server = yield* Tcp.listen()
        const client = yield* Tcp.connect({ port: server.address.port })
        const accepted = yield* server.accept
        yield* accepted.write(encode("before"))
        yield* accepted.reset
        const error = yield* Effect.flip(Stream.runDrain(client.stream))
        assert.strictEqual(error._tag, "ConnectionResetError")
        assert.strictEqual(error.errno, errno.ECONNRESET)
        const write = yield* Effect.flip(client.write(encode("after")))
        assert.strictEqual(write._tag, "BrokenPipeError")
        assert.strictEqual(write.errno, errno.EPIPE)
      })
  )

  live("broken pipe: writing after the peer is gone", () =>
    Effect.gen(function*() {
      const server = yield* Tcp.listen()
      const client = yield* Tcp.connect({ port: server.address.port })
      yield* Effect.scoped(server.accept) // accepted and closed at once
      assert.strictEqual(yield* readAll(client), "")
      let error: unknown
      for (let i = 0; i < 100 && error === undefined; i++) {
        const exit = yield* Effect.exit(client.write(encode("anyone there?")))
        if (Exit.isFailure(exit)) error = Cause.squash(exit.cause)
        else yield* Effect.sleep(10)
      }
      assert.isDefined(error)
      const broken = error as { _tag: string; errno: number; code: string; syscall: string }
      assert.strictEqual(broken._tag, "BrokenPipeError")
      assert.strictEqual(broken.errno, errno.EPIPE)
      assert.strictEqual(broken.code, "EPIPE")
      assert.strictEqual(broken.syscall, "write")
    }))

  live("address in use: a second listener on the same port", () =>
    Effect.gen(function*() {
      const first = yield* Tcp.listen()
      const error = yield* Effect.flip(Tcp.listen({ port: first.address.port }))
      assert.strictEqual(error._tag, "AddressInUseError")
      assert.strictEqual(error.errno, errno.EADDRINUSE)
      assert.strictEqual(error.host, "127.0.0.1")
      assert.strictEqual(error.port, first.address.port)
    }))

  live("timeout: an idle connection fails its reads with TimeoutError and is closed", () =>
    Effect.gen(function*() {
      const server = yield* Tcp.listen({ idleTimeout: "200 millis" })
      const client = yield* Tcp.connect({ port: server.address.port })
      const accepted = yield* server.accept
      const started = Date.now()
      const error = yield* Effect.flip(Stream.runDrain(accepted.stream))
      assert.isAtLeast(Date.now() - started, 150)
      assert.strictEqual(error._tag, "TimeoutError")
      assert.strictEqual(error.errno, errno.ETIMEDOUT)
      assert.strictEqual(error.syscall, "read")
      assert.strictEqual(error.detail, "idle for 0.2s")
      // the server closed it: the client reads EOF
      assert.strictEqual(yield* readAll(client), "")
    }))

  live("timeout: traffic keeps an idle timeout from firing", () =>
    Effect.gen(function*() {
      const server = yield* Tcp.listen({ idleTimeout: "150 millis" })
      const client = yield* Tcp.connect({ port: server.address.port })
      const accepted = yield* server.accept
      const reading = yield* Effect.forkChild(readAll(accepted))
      for (let i = 0; i < 6; i++) {
        yield* client.write(encode("."))
        yield* Effect.sleep(50)
      }
      yield* client.end
      assert.strictEqual(yield* Fiber.join(reading), "......")
    }))

  it.live.skipIf(process.platform !== "linux")(
    "timeout: connect to a listener whose backlog is full",
    () =>
      Effect.gen(function*() {
        const before = tcpHandles()
        const raw = yield* rawListener
        // The first connection fills the backlog (it is never accepted); the next SYNs are dropped.
        const filled: Array<Scope.Closeable> = []
        let error: { _tag: string; syscall: string; detail?: string | undefined; port?: number | undefined } | undefined
        for (let i = 0; i < 4 && error === undefined; i++) {
          const scope = yield* Scope.make()
          filled.push(scope)
          const exit = yield* Effect.exit(
            Scope.provide(Tcp.connect({ port: raw.port, timeout: "300 millis" }), scope)
          )
          if (Exit.isFailure(exit)) error = Cause.squash(exit.cause) as typeof error
        }
        for (const scope of filled) yield* Scope.close(scope, Exit.void)
        assert.isDefined(error, "the kernel accepted every connection")
        assert.strictEqual(error!._tag, "TimeoutError")
        assert.strictEqual(error!.syscall, "connect")
        assert.strictEqual(error!.detail, "connect timed out after 0.3s")
        assert.strictEqual(error!.port, raw.port)
        assert.strictEqual(tcpHandles(), before)
      }).pipe(Effect.scoped, Effect.provide(Tcp.layer), Effect.timeout(bounded))
  )

  live("resolution: a host name that does not resolve", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Tcp.connect({ host: "nope.invalid", port: 9 }))
      assert.strictEqual(error._tag, "AddressResolutionError")
      assert.strictEqual(error.host, "nope.invalid")
      assert.strictEqual(error.syscall, "getaddrinfo")
    }))

  it.live("permission: binding port 80 without privileges", (ctx) => {
    const root = process.getuid?.() === 0
    if (process.platform !== "linux") ctx.skip(`port 80 may need no privilege on ${process.platform}`)
    const unprivilegedStart = Number(Fs.readFileSync("/proc/sys/net/ipv4/ip_unprivileged_port_start", "utf8"))
    if (unprivilegedStart <= 80) {
      ctx.skip(`port 80 is unprivileged here (ip_unprivileged_port_start = ${unprivilegedStart})`)
    }
    if (root && !Fs.existsSync("/usr/bin/setpriv")) {
      ctx.skip("running as root without setpriv: cannot drop the capability")
    }
    return Effect.gen(function*() {
      if (root) {
        // We are root: bind from a child that stays root, so that it can read this checkout wherever it is
        // (nobody could not read one in a private folder), but without the capability to bind ports below 1024.
        const module = process.env["SOCKET_UNDER_TEST"] === "dist" ? "../dist/Tcp.js" : "../src/Tcp.ts"
        const tcp = Url.pathToFileURL(Path.resolve(import.meta.dirname, module)).href
        const script = `
          const { Effect } = await import("effect")
          const Tcp = await import(${JSON.stringify(tcp)})
          const exit = await Effect.runPromiseExit(
            Effect.scoped(Tcp.listen({ port: 80 })).pipe(Effect.provide(Tcp.layer))
          )
          console.log(JSON.stringify(exit._tag === "Failure" ? exit.cause.reasons[0].error : { _tag: "Listening" }))
        `
        const output = yield* Effect.callback<string, Error>((resume) => {
          ChildProcess.execFile(
            "/usr/bin/setpriv",
            [
              "--inh-caps=-all",
              "--ambient-caps=-all",
              "--bounding-set=-net_bind_service",
              process.execPath,
              "--input-type=module",
              "-e",
              script
            ],
            { cwd: Path.resolve(import.meta.dirname, ".."), timeout: 10_000 },
            (error, stdout) => resume(error ? Effect.fail(error) : Effect.succeed(stdout))
          )
        })
        const result = JSON.parse(output.trim()) as { _tag: string; errno?: number; port?: number }
        assert.strictEqual(result._tag, "PermissionError")
        assert.strictEqual(result.errno, errno.EACCES)
        assert.strictEqual(result.port, 80)
        return
      }
      const exit = yield* Effect.exit(Effect.scoped(Tcp.listen({ port: 80 })))
      if (Exit.isSuccess(exit)) assert.fail("this user may bind port 80 (CAP_NET_BIND_SERVICE?)")
      const error = Cause.squash(exit.cause) as { _tag: string }
      assert.strictEqual(error._tag, "PermissionError")
    }).pipe(Effect.provide(Tcp.layer), Effect.timeout(bounded))
  })
})

describe("Node Tcp: reading, writing, backpressure", () => {
  live("what arrived while nobody pulled comes as one batch", () =>
    Effect.gen(function*() {
      const server = yield* Tcp.listen()
      const client = yield* Tcp.connect({ port: server.address.port })
      const accepted = yield* server.accept
      for (const part of ["a", "b", "c"]) {
        yield* client.write(encode(part))
        yield* Effect.sleep(20)
      }
      const pull = yield* Stream.toPull(accepted.stream)
      const batch = yield* pull
      assert.strictEqual(decode(concat(batch)), "abc")
      assert.isAtLeast(batch.length, 2)
    }))

  live(
    "read-ahead stops at readLimit and the writer suspends; everything arrives once it pulls",
    () =>
      Effect.gen(function*() {
        const readLimit = 16 * 1024
        const server = yield* Tcp.listen({ readLimit })
        const client = yield* Tcp.connect({ port: server.address.port, sendBufferSize: 64 * 1024 })
        const accepted = yield* server.accept
        const chunk = new Uint8Array(64 * 1024).fill(7)
        const writer = yield* Effect.forkChild(Effect.forever(client.write(chunk)))
        // The writer fills the kernel's buffers, then suspends: its count stops growing.
        let last = -1
        const written = yield* eventually(
          Effect.flatMap(Effect.sleep(200), () => client.bytesWritten),
          (n) => {
            const settled = n === last
            last = n
            return settled
          }
        )
        assert.isBelow(written, 64 * 1024 * 1024)
        assert.isUndefined(writer.pollUnsafe())
        // Nobody pulled: no more than the read limit (and at most one read) was taken in.
        const readAhead = yield* accepted.bytesRead
        assert.isAtMost(readAhead, readLimit + 64 * 1024)
        // Pulling lets everything through, and the writer goes on.
        const got = yield* readBytes(accepted, written + 1)
        assert.isAbove(got.length, written)
        assert.isTrue(got.every((byte) => byte === 7))
        yield* Fiber.interrupt(writer)
      })
  )

  live("64 MiB arrive intact through an echo server", () =>
    Effect.gen(function*() {
      const server = yield* Tcp.listen()
      yield* Effect.forkScoped(server.serve((connection) => Stream.run(connection.stream, connection.sink)))
      const client = yield* Tcp.connect({ port: server.address.port })
      const block = 1024 * 1024
      const blocks = 64
      const sent = Crypto.createHash("sha256")
      const received = Crypto.createHash("sha256")
      const writer = Effect.gen(function*() {
        for (let i = 0; i < blocks; i++) {
          const bytes = Crypto.randomBytes(block)
          sent.update(bytes)
          yield* client.write(bytes)
        }
        yield* client.end
      })
      const reader = Stream.runForEachArray(client.stream, (chunks) =>
        Effect.sync(() => {
          for (const chunk of chunks) received.update(chunk)
        }))
      yield* Effect.all([writer, reader], { concurrency: 2, discard: true })
      assert.strictEqual(yield* client.bytesRead, block * blocks)
      assert.strictEqual(received.digest("hex"), sent.digest("hex"))
    }))

  live("half-close, client first: the server reads EOF and still answers", () =>
    Effect.gen(function*() {
      const server = yield* Tcp.listen()
      const client = yield* Tcp.connect({ port: server.address.port })
      const accepted = yield* server.accept
      yield* client.writeAll([encode("ques"), encode("tion")])
      yield* client.end
      assert.strictEqual(yield* readAll(accepted), "question")
      yield* accepted.write(encode("answer"))
      yield* accepted.end
      assert.strictEqual(yield* readAll(client), "answer")
    }))

  live("half-close, server first: the client reads EOF and still sends", () =>
    Effect.gen(function*() {
      const server = yield* Tcp.listen()
      const client = yield* Tcp.connect({ port: server.address.port })
      const accepted = yield* server.accept
      yield* accepted.write(encode("hello"))
      yield* accepted.end
      assert.strictEqual(yield* readAll(client), "hello")
      yield* client.write(encode("still here"))
      yield* client.end
      assert.strictEqual(yield* readAll(accepted), "still here")
      // writing after one's own end
      const error = yield* Effect.flip(client.write(encode("more")))
      assert.strictEqual(error._tag, "BrokenPipeError")
    }))

  live("closing a connection's scope fails a read suspended in another fiber", () =>
    Effect.gen(function*() {
      const server = yield* Tcp.listen()
      const scope = yield* Scope.make()
      const client = yield* Scope.provide(Tcp.connect({ port: server.address.port }), scope)
      yield* server.accept
      const reading = yield* Effect.forkChild(Stream.runDrain(client.stream))
      yield* Effect.sleep(20)
      yield* Scope.close(scope, Exit.void)
      const exit = yield* Fiber.await(reading)
      assert.isTrue(Exit.isFailure(exit))
      const error = Cause.squash((exit as Exit.Failure<void, { _tag: string }>).cause) as { _tag: string }
      assert.strictEqual(error._tag, "ConnectionAbortedError")
    }))
})

describe("Node Tcp: options and resources", () => {
  live("socket options are read from the kernel, and set buffer sizes are reflected", () =>
    Effect.gen(function*() {
      const server = yield* Tcp.listen({ receiveBufferSize: 96 * 1024 })
      const client = yield* Tcp.connect({
        port: server.address.port,
        receiveBufferSize: 64 * 1024,
        sendBufferSize: 32 * 1024,
        keepAlive: "30 seconds",
        localAddress: "127.0.0.1"
      })
      const accepted = yield* server.accept
      assert.strictEqual(Address.isInet(client.localAddress) && client.localAddress.host, "127.0.0.1")
      assert.deepStrictEqual(accepted.remoteAddress, client.localAddress)
      const theirs = yield* accepted.options
      const mine = yield* client.options
      assert.strictEqual(theirs.reuseAddress, true)
      assert.strictEqual(theirs.reusePort, false)
      assert.strictEqual(theirs.noDelay, true)
      assert.strictEqual(mine.keepAlive, true)
      // Linux reports double the value set (bookkeeping overhead).
      const factor = process.platform === "linux" ? 2 : 1
      assert.strictEqual(mine.receiveBufferSize, 64 * 1024 * factor)
      assert.strictEqual(mine.sendBufferSize, 32 * 1024 * factor)
      assert.strictEqual(theirs.receiveBufferSize, 96 * 1024 * factor)
      // Once closed, nothing can be read: unavailable, not invented.
      yield* client.reset
      yield* Effect.sleep(10)
      assert.deepStrictEqual(yield* client.options, {
        reuseAddress: undefined,
        reusePort: undefined,
        receiveBufferSize: undefined,
        sendBufferSize: undefined,
        noDelay: undefined,
        keepAlive: undefined,
        keepAliveIdle: undefined,
        keepAliveInterval: undefined,
        keepAliveCount: undefined,
        userTimeout: undefined
      })
    }))

  live("reusePort: two servers share a port", () =>
    Effect.gen(function*() {
      const first = yield* Tcp.listen({ reusePort: true })
      const second = yield* Tcp.listen({ reusePort: true, port: first.address.port })
      assert.strictEqual(second.address.port, first.address.port)
      yield* Tcp.connect({ port: first.address.port })
      const accepted = yield* Effect.raceFirst(first.accept, second.accept)
      assert.strictEqual((yield* accepted.options).reusePort, true)
    }))

  it.live("no socket or server handle is left open, whatever happened", () =>
    Effect.gen(function*() {
      const before = tcpHandles()
      yield* Effect.gen(function*() {
        const server = yield* Tcp.listen({ idleTimeout: "100 millis", shutdownGrace: "100 millis" })
        yield* Effect.forkScoped(server.serve((connection) => Stream.run(connection.stream, connection.sink)))
        // an echo
        yield* Effect.scoped(Effect.gen(function*() {
          const client = yield* Tcp.connect({ port: server.address.port })
          yield* client.write(encode("x"))
          yield* readBytes(client, 1)
        }))
        // a connection left open for the server's shutdown
        yield* Tcp.connect({ port: server.address.port })
        // an interrupted connection
        const fiber = yield* Effect.forkChild(Effect.scoped(Effect.andThen(
          Tcp.connect({ port: server.address.port }),
          Effect.never
        )))
        yield* Effect.sleep(10)
        yield* Fiber.interrupt(fiber)
        // a refused one
        yield* Effect.flip(Tcp.connect({ port: yield* freePort }))
        // an idle one timed out by the server
        yield* Effect.scoped(Effect.andThen(Tcp.connect({ port: server.address.port }), (c) => readAll(c)))
        // a failing listen
        yield* Effect.flip(Effect.scoped(Tcp.listen({ port: server.address.port })))
      }).pipe(Effect.scoped)
      assert.strictEqual(tcpHandles(), before)
    }).pipe(Effect.provide(Tcp.layer), Effect.provide(Logger.layer([])), Effect.timeout(bounded)))
})

interface Logged {
  readonly message: unknown
  readonly level: string
  readonly annotations: Readonly<Record<string, unknown>>
  readonly cause: Cause.Cause<unknown>
}

const capture = () => {
  const logs: Array<Logged> = []
  const logger = Logger.make<unknown, void>((options) => {
    logs.push({
      message: options.message,
      level: options.logLevel,
      annotations: options.fiber.getRef(References.CurrentLogAnnotations),
      cause: options.cause
    })
  })
  return { logs, layer: Logger.layer([logger]) }
}

describe("Node Tcp: serve", () => {
  it.live("a handler's failure is logged with its typed error and annotations; the server keeps serving", () => {
    const { layer, logs } = capture()
    return Effect.gen(function*() {
      const server = yield* Tcp.listen({ shutdownGrace: "100 millis" })
      yield* Effect.forkScoped(server.serve((connection) =>
        Effect.gen(function*() {
          const first = yield* readBytes(connection, 1)
          if (decode(first) === "r") {
            // The peer resets: reading fails with ConnectionResetError, which the handler lets through.
            return yield* Stream.runDrain(connection.stream)
          }
          yield* connection.write(encode("ok"))
        })
      ))
      const doomed = yield* Tcp.connect({ port: server.address.port })
      yield* doomed.write(encode("r"))
      yield* Effect.sleep(20)
      yield* doomed.reset
      const warning = yield* eventually(
        Effect.sync(() => logs.find((log) => log.level === "Warn")),
        (log) => log !== undefined
      )
      assert.deepStrictEqual(warning!.message, ["Connection handler failed"])
      assert.strictEqual(warning!.annotations.error, "ConnectionResetError")
      assert.strictEqual(warning!.annotations.connectionId, (yield* Effect.succeed(doomed.id)) + 1)
      assert.strictEqual(warning!.annotations.peer, Address.format(doomed.localAddress))
      // an expected socket error: its message as an annotation, no cause with a stack
      assert.match(String(warning!.annotations.errorMessage), /^\[Errno \d+\] Connection reset by peer/)
      assert.strictEqual(warning!.annotations.code, "ECONNRESET")
      assert.strictEqual(warning!.cause.reasons.length, 0)
      // and the server goes on
      const client = yield* Tcp.connect({ port: server.address.port })
      yield* client.write(encode("x"))
      assert.strictEqual(yield* readAll(client), "ok")
    }).pipe(Effect.scoped, Effect.provide(Tcp.layer), Effect.provide(layer), Effect.timeout(bounded))
  })

  live(
    "shutdown waits for handlers up to the grace, then interrupts them and closes every socket",
    () =>
      Effect.gen(function*() {
        const scope = yield* Scope.make()
        const server = yield* Scope.provide(Tcp.listen({ shutdownGrace: "300 millis" }), scope)
        const finished = yield* Deferred.make<void>()
        const interrupted = yield* Deferred.make<void>()
        yield* Effect.forkIn(
          server.serve((connection) =>
            Effect.gen(function*() {
              const kind = decode(yield* readBytes(connection, 4))
              if (kind === "fast") {
                yield* Effect.sleep(100)
                yield* connection.write(encode("bye"))
                yield* Deferred.succeed(finished, undefined)
                return
              }
              yield* Effect.never.pipe(Effect.onInterrupt(() => Deferred.succeed(interrupted, undefined)))
            })
          ),
          scope
        )
        const fast = yield* Tcp.connect({ port: server.address.port })
        const slow = yield* Tcp.connect({ port: server.address.port })
        yield* fast.write(encode("fast"))
        yield* slow.write(encode("slow"))
        yield* eventually(server.stats, (stats) => stats.active === 2)
        yield* Effect.sleep(20)
        const started = Date.now()
        yield* Scope.close(scope, Exit.void)
        const took = Date.now() - started
        assert.isTrue(yield* Deferred.isDone(finished))
        assert.isTrue(yield* Deferred.isDone(interrupted))
        assert.isAtLeast(took, 250)
        assert.isBelow(took, 2_000)
        assert.strictEqual(yield* readAll(fast), "bye")
        assert.strictEqual(yield* readAll(slow), "")
        const refused = yield* Effect.flip(Tcp.connect({ port: server.address.port }))
        assert.strictEqual(refused._tag, "ConnectionRefusedError")
      })
  )

  live("shutdown with nothing running is immediate, and accept then fails with EBADF", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const server = yield* Scope.provide(Tcp.listen(), scope)
      const waiting = yield* Effect.forkChild(Effect.scoped(server.accept))
      yield* Effect.sleep(10)
      const started = Date.now()
      yield* Scope.close(scope, Exit.void)
      assert.isBelow(Date.now() - started, 1_000)
      const error = yield* Effect.flip(Fiber.join(waiting))
      assert.strictEqual(error._tag, "OSError")
      assert.strictEqual(error.code, "EBADF")
      assert.strictEqual(error.errno, errno.EBADF)
    }))

  live(
    "maxConnections: the extra connection is reset at once and counted; the server keeps serving",
    () =>
      Effect.gen(function*() {
        const server = yield* Tcp.listen({ maxConnections: 1, shutdownGrace: 0 })
        yield* Effect.forkScoped(server.serve((connection) => Stream.run(connection.stream, connection.sink)))
        const first = yield* Tcp.connect({ port: server.address.port })
        yield* eventually(server.stats, (stats) => stats.active === 1)
        const extra = yield* Effect.flip(Effect.flatMap(Tcp.connect({ port: server.address.port }), readAll))
        assert.strictEqual(extra._tag, "ConnectionResetError")
        assert.deepStrictEqual(yield* eventually(server.stats, (s) => s.rejected === 1), {
          active: 1,
          accepted: 1,
          rejected: 1,
          failed: 0
        })
        yield* first.write(encode("still"))
        assert.strictEqual(decode(yield* readBytes(first, 5)), "still")
      })
  )
})

describe("Node Tcp: the PROXY protocol", () => {
  live(
    "a peer that reset before accept() returned is dropped quietly, not rejected as untrusted",
    () =>
      Effect.gen(function*() {
        const server = yield* Tcp.listen({ proxyProtocol: { trusted: ["127.0.0.1/32"] } })
        // our event loop is blocked while another process connects and resets (as HAProxy's plain health
        // check does): the kernel has taken the connection, and its peer is gone before Node accepts it
        const script = `const s = require("node:net").connect(${server.address.port}, "127.0.0.1", () => {
        s.resetAndDestroy(); setTimeout(() => {}, 100) })`
        ChildProcess.spawnSync(process.execPath, ["-e", script], { timeout: 10_000 })
        const good = yield* Tcp.connect({ port: server.address.port })
        yield* good.writeAll(["PROXY TCP4 203.0.113.7 127.0.0.1 40001 8888\r\n", "hello"])
        const accepted = yield* server.accept
        assert.deepStrictEqual(accepted.remoteAddress, { family: "IPv4", host: "203.0.113.7", port: 40001 })
        assert.strictEqual(decode(yield* readBytes(accepted, 5)), "hello")
        const stats = yield* server.stats
        assert.deepStrictEqual([stats.accepted, stats.failed], [2, 0])
      })
  )
})

describe("Node Tcp: effect/socket interop (toSocket)", () => {
  live("Socket.toChannel runs over a connection to a real echo server", () =>
    Effect.gen(function*() {
      const server = yield* Tcp.listen()
      yield* Effect.forkScoped(server.serve((connection) => Stream.run(connection.stream, connection.sink)))
      const client = yield* Tcp.connect({ port: server.address.port })
      const socket = Connection.toSocket(client)
      const received: Array<Uint8Array> = []
      const error = yield* Stream.make<Array<Uint8Array | string>>(encode("Hello "), "World", encode("!")).pipe(
        Stream.pipeThroughChannel(Socket.toChannel(socket)),
        Stream.runForEach((chunk) => Effect.sync(() => received.push(chunk))),
        Effect.flip
      )
      // The upstream ended, the writer half-closed, the echo server ended: a clean close (1000).
      assert.strictEqual(decode(concat(received)), "Hello World!")
      assert.isTrue(Socket.isSocketError(error))
      assert.strictEqual(error.reason._tag, "SocketCloseError")
      assert.strictEqual((error.reason as Socket.SocketCloseError).code, 1000)
    }))

  live(
    "the reader: read errors carry the typed error; closing its scope fails a suspended pull",
    () =>
      Effect.gen(function*() {
        const server = yield* Tcp.listen()
        const client = yield* Tcp.connect({ port: server.address.port })
        const accepted = yield* server.accept
        const socket = Connection.toSocket(client)
        // a suspended pull, then its scope closes
        const readScope = yield* Scope.make()
        const reader = yield* Scope.provide(socket.reader, readScope)
        const pulling = yield* Effect.forkChild(reader.pull)
        yield* Effect.sleep(20)
        yield* Scope.close(readScope, Exit.void)
        const closed = yield* Effect.flip(Fiber.join(pulling))
        assert.strictEqual(closed.reason._tag, "SocketCloseError")
        // a fresh reader sees the data, then the reset as a SocketReadError with the typed cause
        const writer = yield* socket.writer
        yield* writer.write("ping")
        assert.strictEqual(decode(yield* readBytes(accepted, 4)), "ping")
        const again = yield* socket.reader
        yield* accepted.write(encode("pong"))
        assert.strictEqual(decode(concat((yield* again.pull) as ReadonlyArray<Uint8Array>)), "pong")
        yield* accepted.reset
        const failed = yield* Effect.flip(again.pull)
        assert.strictEqual(failed.reason._tag, "SocketReadError")
        assert.strictEqual(
          ((failed.reason as Socket.SocketReadError).cause as { _tag: string })._tag,
          "ConnectionResetError"
        )
      })
  )
})
