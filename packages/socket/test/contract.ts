// The contract of the Tcp service, written once and run against every
// implementation (`contract.test.ts`): the Node layer on loopback and the fake
// network. A behaviour in which they differ fails here.
//
// Every test runs on the live clock (the Node layer needs real time), is bounded
// by a timeout, and only ever binds 127.0.0.1 port 0.
import { assert, describe, it } from "@effect/vitest"
import { Cause, Clock, Deferred, Effect, Exit, Fiber, Option, Scope, Stream } from "effect"
import type { Layer } from "effect"
import * as Crypto from "node:crypto"
import * as Os from "node:os"
import * as Address from "../src/Address.ts"
import * as Tcp from "../src/Tcp.ts"
import { decode, encode, eventually, readAll, reader } from "./util.ts"

const errno = Os.constants.errno

const bounded = "10 seconds"

export const contract = (name: string, layer: Layer.Layer<Tcp.Tcp>): void => {
  const test = (title: string, body: () => Effect.Effect<void, unknown, Tcp.Tcp | Scope.Scope>) =>
    it.live(title, () => body().pipe(Effect.scoped, Effect.provide(layer), Effect.timeout(bounded)))

  describe(`Tcp contract: ${name}`, () => {
    test("listen binds 127.0.0.1 on a free port; connect and accept pair the addresses", () =>
      Effect.gen(function*() {
        const server = yield* Tcp.listen({ port: 0 })
        assert.strictEqual(server.address.host, "127.0.0.1")
        assert.strictEqual(server.address.family, "IPv4")
        assert.isTrue(server.address.port > 0)
        const client = yield* Tcp.connect({ port: server.address.port })
        const accepted = yield* server.accept
        assert.deepStrictEqual(client.remoteAddress, server.address)
        assert.deepStrictEqual(accepted.localAddress, server.address)
        assert.deepStrictEqual(accepted.remoteAddress, client.localAddress)
        assert.strictEqual(Address.isInet(client.localAddress) && client.localAddress.host, "127.0.0.1")
        assert.notStrictEqual(client.id, accepted.id)
        const stats = yield* server.stats
        assert.deepStrictEqual(stats, { active: 1, accepted: 1, rejected: 0, failed: 0 })
      }))

    test("echo: what the client writes comes back, and the byte counters agree", () =>
      Effect.gen(function*() {
        const server = yield* Tcp.listen()
        yield* Effect.forkScoped(server.serve((connection) => Stream.run(connection.stream, connection.sink)))
        const client = yield* Tcp.connect({ port: server.address.port })
        const read = yield* reader(client)
        yield* client.write(encode("Hello World!"))
        assert.strictEqual(decode(yield* read.read(12)), "Hello World!")
        yield* client.writeAll([encode("one "), encode("two "), encode("three")])
        assert.strictEqual(decode(yield* read.read(13)), "one two three")
        assert.strictEqual(yield* client.bytesWritten, 25)
        assert.strictEqual(yield* client.bytesRead, 25)
      }))

    test("strings are written as UTF-8, and bytesWritten counts their bytes, not characters", () =>
      Effect.gen(function*() {
        const server = yield* Tcp.listen()
        const client = yield* Tcp.connect({ port: server.address.port })
        const accepted = yield* server.accept
        yield* client.write("héllo ") // é: 2 bytes
        yield* client.writeAll(["wörld ", encode("and "), "日本 🎉"]) // ö: 2, 日本: 3 each, 🎉: 4
        yield* Stream.make("ü", encode("!")).pipe(Stream.run(client.sink))
        yield* client.end
        const text = "héllo wörld and 日本 🎉ü!"
        assert.strictEqual(yield* readAll(accepted), text)
        assert.strictEqual(yield* client.bytesWritten, encode(text).length)
        assert.strictEqual(yield* accepted.bytesRead, encode(text).length)
        assert.notStrictEqual(encode(text).length, text.length)
      }))

    test("EOF: the peer's end ends the stream cleanly, after everything it wrote", () =>
      Effect.gen(function*() {
        const server = yield* Tcp.listen()
        const client = yield* Tcp.connect({ port: server.address.port })
        const accepted = yield* server.accept
        yield* client.write(encode("abc"))
        yield* client.write(encode("def"))
        yield* client.end
        assert.strictEqual(yield* readAll(accepted), "abcdef")
        // and a second end is harmless
        yield* client.end
      }))

    test("half-close: after the client's end, the server still answers", () =>
      Effect.gen(function*() {
        const server = yield* Tcp.listen()
        const client = yield* Tcp.connect({ port: server.address.port })
        const accepted = yield* server.accept
        yield* client.write(encode("question"))
        yield* client.end
        assert.strictEqual(yield* readAll(accepted), "question")
        yield* accepted.write(encode("answer"))
        yield* accepted.end
        assert.strictEqual(yield* readAll(client), "answer")
      }))

    test("half-close: after the server's end, the client still sends", () =>
      Effect.gen(function*() {
        const server = yield* Tcp.listen()
        const client = yield* Tcp.connect({ port: server.address.port })
        const accepted = yield* server.accept
        yield* accepted.write(encode("greeting"))
        yield* accepted.end
        assert.strictEqual(yield* readAll(client), "greeting")
        yield* client.write(encode("still here"))
        yield* client.end
        assert.strictEqual(yield* readAll(accepted), "still here")
      }))

    test("writing after one's own end fails with BrokenPipeError", () =>
      Effect.gen(function*() {
        const server = yield* Tcp.listen()
        const client = yield* Tcp.connect({ port: server.address.port })
        yield* server.accept
        yield* client.end
        const error = yield* Effect.flip(client.write(encode("late")))
        assert.strictEqual(error._tag, "BrokenPipeError")
        assert.strictEqual(error.code, "EPIPE")
        assert.strictEqual(error.errno, errno.EPIPE)
      }))

    test("reading a connection whose own scope closed fails with ConnectionAbortedError", () =>
      Effect.gen(function*() {
        const server = yield* Tcp.listen()
        yield* Tcp.connect({ port: server.address.port })
        const scope = yield* Scope.make()
        const accepted = yield* server.accept.pipe(Scope.provide(scope))
        const reading = yield* Effect.forkChild(Effect.flip(Stream.runDrain(accepted.stream)))
        yield* Effect.sleep(20)
        yield* Scope.close(scope, Exit.void)
        const error = yield* Fiber.join(reading)
        assert.strictEqual(error._tag, "ConnectionAbortedError")
        assert.strictEqual(error.errno, errno.ECONNABORTED)
        assert.strictEqual((yield* Effect.flip(accepted.write(encode("x"))))._tag, "BrokenPipeError")
        assert.strictEqual((yield* Effect.flip(accepted.end))._tag, "BrokenPipeError")
      }))

    test("backpressure: a writer to a peer that does not read suspends, with bounded memory", () =>
      Effect.gen(function*() {
        const total = 32 * 1024 * 1024
        const chunk = new Uint8Array(64 * 1024).fill(7)
        const server = yield* Tcp.listen({ readLimit: 16 * 1024 })
        const client = yield* Tcp.connect({ port: server.address.port })
        const accepted = yield* server.accept
        let written = 0
        const writer = yield* Effect.forkChild(Effect.gen(function*() {
          while (written < total) {
            yield* client.write(chunk)
            written += chunk.length
          }
          yield* client.end
        }))
        // The writer stops once the buffers are full, and stays stopped.
        yield* Effect.sleep(300)
        const first = written
        yield* Effect.sleep(300)
        assert.strictEqual(written, first, "the writer kept going while nobody read")
        assert.isTrue(written < total, `${written} bytes were accepted without a reader`)
        assert.isUndefined(writer.pollUnsafe())
        // Reading releases it, and every byte arrives.
        const received = yield* Stream.runFold(accepted.stream, () => 0, (n, bytes) => n + bytes.length)
        assert.strictEqual(received, total)
        yield* Fiber.join(writer)
      }))

    test("connect where nothing listens fails with ConnectionRefusedError", () =>
      Effect.gen(function*() {
        const scope = yield* Scope.make()
        const server = yield* Tcp.listen().pipe(Scope.provide(scope))
        const port = server.address.port
        yield* Scope.close(scope, Exit.void)
        const error = yield* Effect.flip(Tcp.connect({ host: "127.0.0.1", port }))
        assert.strictEqual(error._tag, "ConnectionRefusedError")
        assert.strictEqual(error.code, "ECONNREFUSED")
        assert.strictEqual(error.errno, errno.ECONNREFUSED)
        assert.strictEqual(error.syscall, "connect")
        assert.strictEqual(error.host, "127.0.0.1")
        assert.strictEqual(error.port, port)
        assert.include(error.message, `[Errno ${errno.ECONNREFUSED}]`)
      }))

    test("a second listener on the same port fails with AddressInUseError", () =>
      Effect.gen(function*() {
        const server = yield* Tcp.listen()
        const error = yield* Effect.flip(Tcp.listen({ port: server.address.port }))
        assert.strictEqual(error._tag, "AddressInUseError")
        assert.strictEqual(error.code, "EADDRINUSE")
        assert.strictEqual(error.errno, errno.EADDRINUSE)
        assert.strictEqual(error.port, server.address.port)
      }))

    test("writing to a peer that closed: the first write is taken, a later one fails with BrokenPipeError", () =>
      Effect.gen(function*() {
        const server = yield* Tcp.listen()
        const client = yield* Tcp.connect({ port: server.address.port })
        const scope = yield* Scope.make()
        yield* server.accept.pipe(Scope.provide(scope))
        yield* Scope.close(scope, Exit.void)
        assert.strictEqual(yield* readAll(client), "")
        // A real peer's kernel takes the first write after its close, and answers it with an RST: the bytes
        // are lost without an error, which is what a program meets in production.
        yield* client.writeAll([encode("any"), encode("one?")])
        assert.strictEqual(yield* client.bytesWritten, 7)
        const error = yield* client.write(encode("anyone?")).pipe(
          Effect.andThen(Effect.sleep(20)),
          Effect.repeat({ times: 100 }),
          Effect.flip
        )
        assert.strictEqual(error._tag, "BrokenPipeError")
        assert.strictEqual(error.errno, errno[error.code as keyof typeof errno])
      }))

    test("a reset peer: reading fails with ConnectionResetError, writing with BrokenPipeError", () =>
      Effect.gen(function*() {
        const server = yield* Tcp.listen()
        const client = yield* Tcp.connect({ port: server.address.port })
        const accepted = yield* server.accept
        yield* accepted.reset
        const error = yield* Effect.flip(Stream.runDrain(client.stream))
        assert.strictEqual(error._tag, "ConnectionResetError")
        assert.strictEqual(error.code, "ECONNRESET")
        assert.strictEqual(error.errno, errno.ECONNRESET)
        const writeError = yield* Effect.flip(client.write(encode("anyone?")))
        assert.strictEqual(writeError._tag, "BrokenPipeError")
      }))

    test("idle timeout: a silent connection fails its reads with TimeoutError", () =>
      Effect.gen(function*() {
        const server = yield* Tcp.listen({ idleTimeout: "200 millis" })
        const client = yield* Tcp.connect({ port: server.address.port })
        const accepted = yield* server.accept
        const started = yield* Clock.currentTimeMillis
        // Traffic keeps it alive ...
        yield* client.write(encode("ping"))
        const read = yield* reader(accepted)
        assert.strictEqual(decode(yield* read.read(4)), "ping")
        // ... silence does not.
        const error = yield* Effect.flip(read.rest)
        const elapsed = (yield* Clock.currentTimeMillis) - started
        assert.strictEqual(error._tag, "TimeoutError")
        assert.strictEqual(error.errno, errno.ETIMEDOUT)
        assert.strictEqual(error.syscall, "read")
        assert.isAtLeast(elapsed, 150)
        // and the connection is closed: the peer sees EOF
        assert.strictEqual(yield* readAll(client), "")
      }))

    test("idle timeout: what the connection does after it timed out fails with the same TimeoutError", () =>
      Effect.gen(function*() {
        const server = yield* Tcp.listen({ idleTimeout: "200 millis" })
        const client = yield* Tcp.connect({ port: server.address.port })
        const accepted = yield* server.accept
        assert.strictEqual(yield* readAll(client), "")
        const write = yield* Effect.flip(accepted.write(encode("late")))
        const read = yield* Effect.flip(readAll(accepted))
        assert.deepStrictEqual([write._tag, write.syscall], ["TimeoutError", "write"])
        assert.deepStrictEqual([read._tag, read.syscall], ["TimeoutError", "read"])
      }))

    test("idle timeout: a peer that sends but never reads is timed out; the write waiting on it fails with TimeoutError", () =>
      Effect.gen(function*() {
        const server = yield* Tcp.listen({ idleTimeout: "300 millis" })
        const failed = yield* Deferred.make<string>()
        yield* Effect.forkScoped(server.serve((connection) =>
          Stream.run(connection.stream, connection.sink).pipe(
            Effect.tapError((error) => Deferred.succeed(failed, `${error._tag} ${error.syscall}`))
          )
        ))
        const client = yield* Tcp.connect({ port: server.address.port })
        // Writes until every buffer on the way is full, and never reads the echo.
        const chunk = new Uint8Array(1024 * 1024)
        yield* Effect.forkScoped(Effect.ignore(Effect.repeat(client.write(chunk), { times: 127 })))
        assert.strictEqual(yield* Deferred.await(failed), "TimeoutError write")
      }))

    test("interrupting serve stops accepting at once: new connects are refused; running handlers go on", () =>
      Effect.gen(function*() {
        const server = yield* Tcp.listen({ shutdownGrace: "100 millis" })
        const started = yield* Deferred.make<void>()
        const release = yield* Deferred.make<void>()
        const serving = yield* Effect.forkChild(
          server.serve((connection) =>
            Deferred.succeed(started, undefined).pipe(
              Effect.andThen(Deferred.await(release)),
              Effect.andThen(connection.write(encode("done")))
            )
          )
        )
        const client = yield* Tcp.connect({ port: server.address.port })
        yield* Deferred.await(started)
        yield* Fiber.interrupt(serving)
        const late = yield* Effect.flip(Tcp.connect({ port: server.address.port }))
        assert.strictEqual(late._tag, "ConnectionRefusedError")
        yield* Deferred.succeed(release, undefined)
        assert.strictEqual(yield* readAll(client), "done")
      }))

    test("copyTo: an echo of everything, in order, until the peer's FIN; the count is what was copied", () =>
      Effect.gen(function*() {
        const server = yield* Tcp.listen()
        const copied = yield* Deferred.make<number>()
        yield* Effect.forkScoped(server.serve((connection) =>
          connection.copyTo(connection).pipe(
            Effect.tap((n) => Deferred.succeed(copied, n)),
            Effect.andThen(connection.end)
          )
        ))
        const client = yield* Tcp.connect({ port: server.address.port })
        const message = new Uint8Array(3 * 1024 * 1024).map((_, i) => (i * 7) % 251)
        const echoed = yield* Effect.forkScoped(Stream.runCollect(client.stream))
        yield* client.write(message)
        yield* client.end
        const chunks = yield* Fiber.join(echoed)
        const received = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0))
        let offset = 0
        for (const chunk of chunks) {
          received.set(chunk, offset)
          offset += chunk.length
        }
        assert.deepStrictEqual(received, message)
        assert.strictEqual(yield* Deferred.await(copied), message.length)
      }))

    test("copyTo another connection: a proxy with backpressure; a stalled destination stops the source", () =>
      Effect.gen(function*() {
        const front = yield* Tcp.listen()
        const back = yield* Tcp.listen()
        // the proxy: what its client sends goes on to the back server
        yield* Effect.forkScoped(front.serve((incoming) =>
          Effect.gen(function*() {
            const outgoing = yield* Tcp.connect({ port: back.address.port })
            yield* incoming.copyTo(outgoing)
            yield* outgoing.end
          })
        ))
        const client = yield* Tcp.connect({ port: front.address.port })
        const backside = yield* back.accept
        // nobody reads at the back: the client's writes must stop, bounded by the buffers on the way
        const chunk = new Uint8Array(1024 * 1024)
        const writer = yield* Effect.forkScoped(Effect.forever(client.write(chunk)))
        yield* Effect.sleep("300 millis")
        const stalledAt = yield* client.bytesWritten
        yield* Effect.sleep("200 millis")
        assert.strictEqual(yield* client.bytesWritten, stalledAt, "the client kept writing into a stalled proxy")
        assert.isBelow(stalledAt, 256 * 1024 * 1024)
        yield* Fiber.interrupt(writer)
        // once the back reads, everything the client wrote arrives
        const total = yield* Effect.forkScoped(Stream.runFold(backside.stream, () => 0, (n, c) => n + c.length))
        yield* client.end
        assert.strictEqual(yield* Fiber.join(total), yield* client.bytesWritten)
      }))

    test("copyTo fails with the typed error when the peer resets", () =>
      Effect.gen(function*() {
        const server = yield* Tcp.listen()
        const failed = yield* Deferred.make<string>()
        yield* Effect.forkScoped(server.serve((connection) =>
          connection.copyTo(connection).pipe(Effect.tapError((error) => Deferred.succeed(failed, error._tag)))
        ))
        const client = yield* Tcp.connect({ port: server.address.port })
        yield* client.write(encode("bye"))
        yield* eventually(client.bytesWritten, (n) =>
          n === 3)
        yield* Effect.sleep("50 millis")
        yield* client.reset
        assert.oneOf(yield* Deferred.await(failed), ["ConnectionResetError", "BrokenPipeError"])
      }))

    test("maxConnections: an extra connection is reset at once and counted as rejected, not accepted", () =>
      Effect.gen(function*() {
        const server = yield* Tcp.listen({ maxConnections: 1, shutdownGrace: "100 millis" })
        yield* Effect.forkScoped(server.serve(() => Effect.never))
        yield* Tcp.connect({ port: server.address.port })
        yield* eventually(server.stats, (stats) => stats.active === 1)
        // a reset (met while connecting or at the first read), which a client cannot mistake for a served
        // connection that closed at once
        const error = yield* Effect.flip(Effect.flatMap(Tcp.connect({ port: server.address.port }), readAll))
        assert.strictEqual(error._tag, "ConnectionResetError")
        const stats = yield* eventually(server.stats, (stats) => stats.rejected === 1)
        assert.deepStrictEqual(stats, { active: 1, accepted: 1, rejected: 1, failed: 0 })
      }))

    test("a consumer that keeps every chunk of 64 MiB gets every byte, however reads and writes interleave", () =>
      Effect.gen(function*() {
        const payload = Crypto.randomBytes(64 * 1024 * 1024)
        const server = yield* Tcp.listen()
        // the echo copies socket to socket; the client reads nothing at first, so the echo's writes back block
        yield* Effect.forkScoped(server.serve((connection) => connection.copyTo(connection)))
        const client = yield* Tcp.connect({ port: server.address.port })
        const writer = yield* Effect.forkChild(Effect.gen(function*() {
          for (let offset = 0; offset < payload.length; offset += 1024 * 1024) {
            yield* client.write(payload.subarray(offset, offset + 1024 * 1024))
          }
          yield* client.end
        }))
        yield* Effect.sleep(200)
        const kept: Array<Uint8Array> = []
        yield* Stream.runForEach(client.stream, (chunk) => Effect.sync(() => void kept.push(chunk)))
        yield* Fiber.join(writer)
        const received = Buffer.concat(kept)
        assert.strictEqual(received.length, payload.length)
        assert.isTrue(received.equals(payload), "the bytes kept differ from the bytes sent")
      }))

    test("a copy stopped partway leaves the rest to stream, whose consumer keeps every chunk it gets", () =>
      Effect.gen(function*() {
        const payload = Crypto.randomBytes(16 * 1024 * 1024)
        const server = yield* Tcp.listen()
        const client = yield* Tcp.connect({ port: server.address.port })
        const connection = yield* server.accept
        // the client writes everything and drains the echo; the server echoes the first MiBs with copyTo
        // (on Node, past 64 KiB, through a buffer it reuses), then reads the rest through stream
        yield* Effect.forkScoped(Effect.andThen(client.write(payload), client.end))
        yield* Effect.forkScoped(Stream.runDrain(client.stream))
        const copying = yield* Effect.forkChild(connection.copyTo(connection))
        yield* eventually(connection.bytesWritten, (written) => written >= 4 * 1024 * 1024, 1)
        yield* Fiber.interrupt(copying)
        const copied = yield* connection.bytesWritten
        const kept: Array<Uint8Array> = []
        yield* Stream.runForEach(connection.stream, (chunk) => Effect.sync(() => void kept.push(chunk)))
        const rest = Buffer.concat(kept)
        assert.isBelow(copied, payload.length, "the copy was to stop before the end")
        assert.strictEqual(rest.length, payload.length - copied)
        assert.isTrue(rest.equals(payload.subarray(copied)), "the bytes kept differ from the bytes sent")
      }))

    test("stats: a connection the server closed is no longer active by the time its peer reads the end", () =>
      Effect.gen(function*() {
        const server = yield* Tcp.listen()
        yield* Effect.forkScoped(server.serve((connection) => connection.copyTo(connection)))
        const client = yield* Tcp.connect({ port: server.address.port })
        yield* client.write(encode("hi"))
        yield* client.end
        assert.strictEqual(yield* readAll(client), "hi")
        assert.deepStrictEqual(yield* server.stats, { active: 0, accepted: 1, rejected: 0, failed: 0 })
      }))

    test("serve: a handler's failure ends its connection only; the server keeps serving", () =>
      Effect.gen(function*() {
        const server = yield* Tcp.listen()
        yield* Effect.forkScoped(server.serve((connection) =>
          Effect.gen(function*() {
            const read = yield* reader(connection)
            const command = decode(yield* read.read(4))
            if (command === "fail") return yield* Effect.fail("handler failed on purpose")
            if (command === "boom") return yield* Effect.die("handler died on purpose")
            yield* connection.write(encode(`ok:${command}`))
          })
        ))
        for (const command of ["fail", "boom"]) {
          const client = yield* Tcp.connect({ port: server.address.port })
          yield* client.write(encode(command))
          assert.strictEqual(yield* readAll(client), "")
        }
        const client = yield* Tcp.connect({ port: server.address.port })
        yield* client.write(encode("echo"))
        assert.strictEqual(yield* readAll(client), "ok:echo")
        const stats = yield* eventually(server.stats, (stats) => stats.active === 0)
        assert.strictEqual(stats.accepted, 3)
      }))

    test("shutdown: stops accepting at once, lets handlers finish within the grace, then interrupts", () =>
      Effect.gen(function*() {
        const scope = yield* Scope.make()
        const server = yield* Tcp.listen({ shutdownGrace: "400 millis" }).pipe(Scope.provide(scope))
        const port = server.address.port
        const interrupted = yield* Deferred.make<void>()
        yield* server.serve((connection) =>
          Effect.gen(function*() {
            const read = yield* reader(connection)
            const kind = decode(yield* read.read(4))
            if (kind === "slow") {
              return yield* Effect.never.pipe(Effect.onInterrupt(() => Deferred.succeed(interrupted, undefined)))
            }
            yield* read.read(3)
            yield* connection.write(encode("bye"))
          })
        ).pipe(Effect.forkIn(scope))
        const fast = yield* Tcp.connect({ port })
        const slow = yield* Tcp.connect({ port })
        yield* fast.write(encode("fast"))
        yield* slow.write(encode("slow"))
        yield* eventually(server.stats, (stats) => stats.active === 2)
        yield* Effect.sleep(50)
        const started = yield* Clock.currentTimeMillis
        const closing = yield* Effect.forkChild(Scope.close(scope, Exit.void))
        yield* Effect.sleep(50)
        const refused = yield* Effect.flip(Tcp.connect({ port }))
        assert.strictEqual(refused._tag, "ConnectionRefusedError")
        // A running handler finishes within the grace period ...
        yield* fast.write(encode("end"))
        assert.strictEqual(yield* readAll(fast), "bye")
        assert.isTrue(Option.isNone(yield* Deferred.poll(interrupted)))
        // ... the rest are interrupted after it, and their peers see the close.
        assert.strictEqual(yield* readAll(slow), "")
        yield* Deferred.await(interrupted)
        yield* Fiber.join(closing)
        assert.isAtLeast((yield* Clock.currentTimeMillis) - started, 350)
      }))

    test("after the server closed, accept fails with OSError (EBADF); connections it accepted are closed", () =>
      Effect.gen(function*() {
        const scope = yield* Scope.make()
        const server = yield* Tcp.listen({ shutdownGrace: "100 millis" }).pipe(Scope.provide(scope))
        const client = yield* Tcp.connect({ port: server.address.port })
        // owned by this test's scope, not the server's: still closed by the server's shutdown
        yield* server.accept
        yield* Scope.close(scope, Exit.void)
        assert.strictEqual(yield* readAll(client), "")
        const error = yield* Effect.flip(server.accept)
        assert.strictEqual(error._tag, "OSError")
        assert.strictEqual(error.code, "EBADF")
        assert.strictEqual(error.errno, errno.EBADF)
        assert.strictEqual((yield* server.stats).active, 0)
      }))

    test("closing a connection's scope by interruption closes it: the peer sees EOF", () =>
      Effect.gen(function*() {
        const server = yield* Tcp.listen()
        const fiber = yield* Effect.forkChild(Effect.scoped(Effect.gen(function*() {
          const client = yield* Tcp.connect({ port: server.address.port })
          yield* client.write(encode("hi"))
          return yield* Effect.never
        })))
        const accepted = yield* server.accept
        const read = yield* reader(accepted)
        assert.strictEqual(decode(yield* read.read(2)), "hi")
        yield* Fiber.interrupt(fiber)
        assert.strictEqual((yield* read.rest).length, 0)
      }))

    test("options reflect what was asked: TCP_NODELAY by default, SO_KEEPALIVE when asked", () =>
      Effect.gen(function*() {
        const server = yield* Tcp.listen()
        const client = yield* Tcp.connect({ port: server.address.port, noDelay: false, keepAlive: true })
        const accepted = yield* server.accept
        const mine = yield* client.options
        const theirs = yield* accepted.options
        assert.strictEqual(mine.noDelay, false)
        assert.strictEqual(mine.keepAlive, true)
        assert.strictEqual(theirs.noDelay, true)
        assert.strictEqual(theirs.keepAlive, false)
        assert.strictEqual(theirs.reusePort, false)
        // SO_REUSEADDR is the listener's (Node sets it), inherited by what it accepts
        assert.strictEqual(theirs.reuseAddress, true)
        assert.strictEqual(mine.reuseAddress, false)
        assert.isTrue(theirs.receiveBufferSize! > 0)
        assert.isTrue(theirs.sendBufferSize! > 0)
      }))

    test("options report buffer sizes as the kernel does (Linux doubles what was set)", () =>
      Effect.gen(function*() {
        const server = yield* Tcp.listen({ reusePort: true })
        const client = yield* Tcp.connect({
          port: server.address.port,
          receiveBufferSize: 16 * 1024,
          sendBufferSize: 32 * 1024
        })
        const accepted = yield* server.accept
        const factor = process.platform === "linux" ? 2 : 1
        const mine = yield* client.options
        assert.strictEqual(mine.receiveBufferSize, 16 * 1024 * factor)
        assert.strictEqual(mine.sendBufferSize, 32 * 1024 * factor)
        assert.strictEqual((yield* accepted.options).reusePort, true)
      }))
    test("bytesRead counts what arrived, whether or not the stream was read yet", () =>
      Effect.gen(function*() {
        const server = yield* Tcp.listen()
        const client = yield* Tcp.connect({ port: server.address.port })
        const accepted = yield* server.accept
        yield* client.write(encode("0123456789"))
        // nobody reads: the bytes are received all the same
        assert.strictEqual(yield* eventually(accepted.bytesRead, (n) => n === 10), 10)
        const read = yield* reader(accepted)
        assert.strictEqual(decode(yield* read.read(10)), "0123456789")
        assert.strictEqual(yield* accepted.bytesRead, 10)
      }))

    test("readLimit: no more than the limit is read ahead of a consumer that does not read, however small", () =>
      Effect.gen(function*() {
        const readLimit = 1000
        const total = 256 * 1024
        const server = yield* Tcp.listen({ readLimit })
        const client = yield* Tcp.connect({ port: server.address.port })
        const accepted = yield* server.accept
        const writer = yield* Effect.forkChild(Effect.andThen(client.write(new Uint8Array(total).fill(1)), client.end))
        const ahead = yield* eventually(accepted.bytesRead, (n) => n > 0)
        yield* Effect.sleep(200)
        assert.isAtMost(yield* accepted.bytesRead, readLimit, `read ahead ${ahead}`)
        // every batch the stream delivers stays within the limit, and everything arrives
        const sizes = { total: 0, largest: 0 }
        yield* Stream.runForEachArray(accepted.stream, (chunks) =>
          Effect.sync(() => {
            const batch = chunks.reduce((n, chunk) => n + chunk.length, 0)
            sizes.total += batch
            sizes.largest = Math.max(sizes.largest, batch)
          }))
        assert.strictEqual(sizes.total, total)
        assert.isAtMost(sizes.largest, readLimit)
        yield* Fiber.join(writer)
      }))

    test("a readLimit, port or buffer size out of range fails with OSError (EINVAL), naming it", () =>
      Effect.gen(function*() {
        for (const readLimit of [0, -1, 1.5]) {
          const listening = yield* Effect.flip(Tcp.listen({ readLimit }))
          assert.strictEqual(listening._tag, "OSError")
          assert.strictEqual(listening.code, "EINVAL")
          assert.strictEqual(listening.errno, errno.EINVAL)
          assert.include(listening.message, `readLimit must be a whole number of bytes from 1, not ${readLimit}`)
        }
        const server = yield* Tcp.listen()
        const connecting = yield* Effect.flip(Tcp.connect({ port: server.address.port, readLimit: 0 }))
        assert.strictEqual(connecting.code, "EINVAL")
        assert.strictEqual(connecting.syscall, "connect")
        assert.strictEqual((yield* Effect.flip(Tcp.connect({ port: 70000 }))).code, "EINVAL")
        assert.strictEqual((yield* Effect.flip(Tcp.listen({ port: -1 }))).code, "EINVAL")
        assert.strictEqual((yield* Effect.flip(Tcp.listen({ maxConnections: 0 }))).code, "EINVAL")
        assert.strictEqual((yield* Effect.flip(Tcp.connect({ port: 1, sendBufferSize: 0 }))).code, "EINVAL")
      }))

    test("a second reader while the first waits is a defect that says so; the first reads on", () =>
      Effect.gen(function*() {
        const server = yield* Tcp.listen()
        const client = yield* Tcp.connect({ port: server.address.port })
        const accepted = yield* server.accept
        const first = yield* Effect.forkChild(readAll(accepted))
        yield* Effect.sleep(50)
        const second = yield* Effect.exit(Stream.runDrain(accepted.stream))
        assert.isTrue(Exit.hasDies(second), "a second reader must die")
        const defect = Exit.isFailure(second) ? Cause.squash(second.cause) : undefined
        assert.match(String(defect), /another fiber is already reading/)
        yield* client.write(encode("still mine"))
        yield* client.end
        assert.strictEqual(yield* Fiber.join(first), "still mine")
      }))

    test("connections that arrived before serve started get their handler, and the grace, at shutdown", () =>
      Effect.gen(function*() {
        const scope = yield* Scope.make()
        const server = yield* Tcp.listen({ shutdownGrace: "5 seconds" }).pipe(Scope.provide(scope))
        const clients = yield* Effect.forEach([1, 2, 3], () => Tcp.connect({ port: server.address.port }))
        for (const client of clients) yield* client.write(encode("early"))
        yield* eventually(server.stats, (stats) => stats.accepted === 3)
        const started = yield* Deferred.make<void>()
        yield* server.serve((connection) =>
          Effect.gen(function*() {
            yield* Deferred.succeed(started, undefined)
            const read = yield* reader(connection)
            yield* connection.write(yield* read.read(5))
          })
        ).pipe(Effect.forkIn(scope))
        // the server shuts down as soon as serve has started its first handler
        yield* Deferred.await(started)
        const closing = yield* Effect.forkChild(Scope.close(scope, Exit.void))
        for (const client of clients) assert.strictEqual(yield* readAll(client), "early")
        yield* Fiber.join(closing)
      }))

    test("closeTimeout: a close waits that long for a peer that does not read, then resets; nothing is lost silently", () =>
      Effect.gen(function*() {
        const server = yield* Tcp.listen({ readLimit: 16 * 1024 })
        const scope = yield* Scope.make()
        const client = yield* Tcp.connect({ port: server.address.port, closeTimeout: "200 millis" }).pipe(
          Scope.provide(scope)
        )
        const accepted = yield* server.accept
        // more than the peer's buffers hold: the write waits for a reader that does not come
        yield* Effect.forkChild(Effect.exit(client.write(new Uint8Array(8 * 1024 * 1024).fill(2))))
        yield* Effect.sleep(100)
        const started = yield* Clock.currentTimeMillis
        yield* Scope.close(scope, Exit.void)
        assert.isBelow((yield* Clock.currentTimeMillis) - started, 2_000, "the close waited past its timeout")
        const written = yield* client.bytesWritten
        // every byte written arrived before a clean end, or the peer sees the reset
        const outcome = yield* Stream.runFold(accepted.stream, () => 0, (n, chunk) => n + chunk.length).pipe(
          Effect.map((n) => n === written ? "all, then a clean end" : `${n} of ${written}, then a clean end`),
          Effect.catchTag("ConnectionResetError", () => Effect.succeed("reset"))
        )
        assert.oneOf(outcome, ["all, then a clean end", "reset"])
      }))
  })
}
