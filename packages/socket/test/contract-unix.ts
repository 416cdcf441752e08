// The contract of Unix domain sockets, run on both layers from contract.test.ts:
// a listener on a path and connects by path, the whole Connection over it, the
// socket file's life (permissions, removal, a stale file replaced, a live one or
// a file that is not a socket left alone), the errors a path can meet, and
// Linux abstract names. Paths live under a fresh folder per test (a temporary
// folder on Node, the fake file system on the fake network).
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Scope, Stream } from "effect"
import type { Layer } from "effect"
import * as Os from "node:os"
import * as Address from "../src/Address.ts"
import { maximumLength } from "../src/internal/unixPath.ts"
import * as Tcp from "../src/Tcp.ts"
import * as Tls from "../src/Tls.ts"
import { certificates } from "./tls/certs.ts"
import type { UnixFixture } from "./unixFixture.ts"
import { decode, encode, eventually, readAll, reader } from "./util.ts"

const errno = Os.constants.errno

const bounded = "10 seconds"

const unnamed: Address.UnixAddress = { family: "Unix", path: "" }

export const contractUnix = <R>(name: string, layer: Layer.Layer<Tcp.Tcp | R>, fixture: UnixFixture<R>): void => {
  const test = (title: string, body: () => Effect.Effect<void, unknown, Tcp.Tcp | Scope.Scope | R>) =>
    it.live(title, () => body().pipe(Effect.scoped, Effect.provide(layer), Effect.timeout(bounded)))

  /** A listener on a fresh path, a client connected to it, and the accepted end. */
  const pair = (options?: Omit<Tcp.UnixListenOptions, "path"> & Tcp.CommonListenOptions) =>
    Effect.gen(function*() {
      const path = `${yield* fixture.folder}/s.sock`
      const server = yield* Tcp.listen({ ...options, path })
      const client = yield* Tcp.connect({ path })
      const accepted = yield* server.accept
      return { path, server, client, accepted }
    })

  describe(`Unix socket contract: ${name}`, () => {
    test("TLS: not an option over a Unix socket (EINVAL); STARTTLS over one verifies against serverName", () =>
      Effect.gen(function*() {
        const certs = certificates()
        const path = `${yield* fixture.folder}/tls.sock`
        const tls = { cert: certs.server.cert, key: certs.server.key }
        const refused = yield* Effect.flip(Tcp.listen({ path, tls } as unknown as Tcp.ListenOptions))
        assert.strictEqual(refused._tag === "OSError" && refused.code, "EINVAL")
        assert.include(refused.message, "tls is not offered over a Unix socket")
        const server = yield* Tcp.listen({ path })
        const connectRefused = yield* Effect.flip(Tcp.connect({ path, tls: true } as unknown as Tcp.ConnectOptions))
        assert.strictEqual(connectRefused._tag === "OSError" && connectRefused.code, "EINVAL")
        const plain = yield* Tcp.connect({ path })
        const accepted = yield* server.accept
        // no host name to verify: serverName must say which
        const unnamedServer = yield* Effect.flip(Tls.startTls(plain, { role: "client", ca: certs.ca }))
        assert.include(unnamedServer.message, "tls.serverName is needed over a Unix socket")
        const upgrading = yield* Effect.forkChild(Tls.startTls(accepted, { role: "server", ...tls }))
        const client = yield* Tls.startTls(plain, { role: "client", ca: certs.ca, serverName: "localhost" })
        const secured = yield* Fiber.join(upgrading)
        yield* client.write("over TLS on a Unix socket")
        yield* client.end
        yield* Stream.run(secured.stream, secured.sink)
        yield* secured.end
        assert.strictEqual(yield* readAll(client), "over TLS on a Unix socket")
      }))

    test("listen on a path, connect by path: the addresses are the path and the unnamed client end", () =>
      Effect.gen(function*() {
        const { accepted, client, path, server } = yield* pair()
        assert.deepStrictEqual(server.address, { family: "Unix", path })
        assert.strictEqual(Address.format(server.address), path)
        assert.deepStrictEqual(client.remoteAddress, server.address)
        assert.deepStrictEqual(accepted.localAddress, server.address)
        assert.deepStrictEqual(client.localAddress, unnamed)
        assert.deepStrictEqual(accepted.remoteAddress, unnamed)
        assert.strictEqual(Address.format(accepted.remoteAddress), "(unnamed)")
        assert.deepStrictEqual(yield* server.stats, { active: 1, accepted: 1, rejected: 0, failed: 0 })
        assert.strictEqual((yield* fixture.entry(path))?.kind, "socket")
      }))

    test("echo through stream and sink; strings as UTF-8; the byte counters agree", () =>
      Effect.gen(function*() {
        const path = `${yield* fixture.folder}/echo.sock`
        const server = yield* Tcp.listen({ path })
        yield* Effect.forkScoped(server.serve((connection) => Stream.run(connection.stream, connection.sink)))
        const client = yield* Tcp.connect({ path })
        const read = yield* reader(client)
        yield* client.write("héllo ")
        yield* client.writeAll([encode("wörld"), "!"])
        const text = "héllo wörld!"
        assert.strictEqual(decode(yield* read.read(encode(text).length)), text)
        assert.strictEqual(yield* client.bytesWritten, encode(text).length)
        assert.strictEqual(yield* client.bytesRead, encode(text).length)
      }))

    test("half-close both ways: after an end the other side reads EOF and still answers", () =>
      Effect.gen(function*() {
        const { accepted, client } = yield* pair()
        yield* client.write(encode("question"))
        yield* client.end
        assert.strictEqual(yield* readAll(accepted), "question")
        yield* accepted.write(encode("answer"))
        yield* accepted.end
        assert.strictEqual(yield* readAll(client), "answer")
        assert.strictEqual((yield* Effect.flip(client.write(encode("late"))))._tag, "BrokenPipeError")
      }))

    test("copyTo: an echo of 3 MiB, in order, until the peer's end", () =>
      Effect.gen(function*() {
        const path = `${yield* fixture.folder}/copy.sock`
        const server = yield* Tcp.listen({ path })
        const copied = yield* Deferred.make<number>()
        yield* Effect.forkScoped(server.serve((connection) =>
          connection.copyTo(connection).pipe(
            Effect.tap((n) => Deferred.succeed(copied, n)),
            Effect.andThen(connection.end)
          )
        ))
        const client = yield* Tcp.connect({ path })
        const message = new Uint8Array(3 * 1024 * 1024).map((_, i) => (i * 7) % 251)
        const echoed = yield* Effect.forkScoped(Stream.runCollect(client.stream))
        yield* client.write(message)
        yield* client.end
        const received = Buffer.concat(yield* Fiber.join(echoed))
        assert.isTrue(received.equals(message), "the echo differs from what was sent")
        assert.strictEqual(yield* Deferred.await(copied), message.length)
      }))

    test("backpressure: a writer to a peer that does not read suspends, and every byte arrives once it reads", () =>
      Effect.gen(function*() {
        const total = 16 * 1024 * 1024
        const chunk = new Uint8Array(64 * 1024).fill(7)
        const { accepted, client } = yield* pair({ readLimit: 16 * 1024 })
        let written = 0
        const writer = yield* Effect.forkChild(Effect.gen(function*() {
          while (written < total) {
            yield* client.write(chunk)
            written += chunk.length
          }
          yield* client.end
        }))
        yield* Effect.sleep(300)
        const first = written
        yield* Effect.sleep(200)
        assert.strictEqual(written, first, "the writer kept going while nobody read")
        assert.isBelow(written, total)
        const received = yield* Stream.runFold(accepted.stream, () => 0, (n, bytes) => n + bytes.length)
        assert.strictEqual(received, total)
        yield* Fiber.join(writer)
      }))

    test("a Unix socket has no RST: reset closes at once, the peer reads the end, and its writes then fail", () =>
      Effect.gen(function*() {
        const { accepted, client } = yield* pair()
        yield* client.write(encode("read before the reset"))
        yield* eventually(accepted.bytesRead, (n) => n === 21)
        yield* accepted.reset
        assert.strictEqual(yield* readAll(client), "")
        // Node takes the first write and learns of EPIPE after it, as TCP's first write after a close is taken
        const error = yield* client.write(encode("anyone?")).pipe(
          Effect.andThen(Effect.sleep(20)),
          Effect.repeat({ times: 100 }),
          Effect.flip
        )
        assert.strictEqual(error._tag, "BrokenPipeError")
        assert.strictEqual(error.errno, errno.EPIPE)
      }))

    test("closing with bytes unread fails the peer: its blocked write with a typed error, not a hang", () =>
      Effect.gen(function*() {
        const { accepted, client, path } = yield* pair({ readLimit: 16 * 1024 })
        const writing = yield* Effect.forkChild(Effect.flip(client.write(new Uint8Array(8 * 1024 * 1024))))
        yield* eventually(accepted.bytesRead, (n) => n >= 16 * 1024)
        yield* Effect.sleep(50)
        yield* accepted.reset
        const error = yield* Fiber.join(writing)
        assert.oneOf(error._tag, ["BrokenPipeError", "ConnectionResetError"])
        assert.strictEqual(error.path, path)
      }))

    test("the idle timeout closes a silent connection: reads fail with TimeoutError naming the path", () =>
      Effect.gen(function*() {
        const { accepted, client, path } = yield* pair({ idleTimeout: "200 millis" })
        const error = yield* Effect.flip(readAll(accepted))
        assert.strictEqual(error._tag, "TimeoutError")
        assert.strictEqual(error.path, path)
        assert.strictEqual(error.host, undefined)
        assert.include(error.message, `(${path})`)
        assert.strictEqual(yield* readAll(client), "")
      }))

    test("maxConnections: an extra connection is closed at once (no RST to send) and counted as rejected", () =>
      Effect.gen(function*() {
        const path = `${yield* fixture.folder}/max.sock`
        const server = yield* Tcp.listen({ path, maxConnections: 1, shutdownGrace: "100 millis" })
        yield* Effect.forkScoped(server.serve(() => Effect.never))
        yield* Tcp.connect({ path })
        yield* eventually(server.stats, (stats) => stats.active === 1)
        const extra = yield* Tcp.connect({ path })
        assert.strictEqual(yield* readAll(extra), "")
        const stats = yield* eventually(server.stats, (stats) => stats.rejected === 1)
        assert.deepStrictEqual(stats, { active: 1, accepted: 1, rejected: 1, failed: 0 })
      }))

    test("options: TCP_NODELAY, keepalive and TCP_USER_TIMEOUT do not apply (undefined); asking for them does not fail", () =>
      Effect.gen(function*() {
        const path = `${yield* fixture.folder}/opt.sock`
        const deadPeers = {
          keepAlive: { idle: "1 second", interval: "1 second", count: 3 },
          userTimeout: "1 second"
        } as const
        const server = yield* Tcp.listen({ path, noDelay: false, ...deadPeers })
        const client = yield* Tcp.connect({ path, noDelay: true, receiveBufferSize: 16 * 1024, ...deadPeers })
        const accepted = yield* server.accept
        const mine = yield* client.options
        const theirs = yield* accepted.options
        for (const options of [mine, theirs]) {
          assert.strictEqual(options.noDelay, undefined)
          assert.strictEqual(options.keepAlive, undefined)
          assert.strictEqual(options.keepAliveInterval, undefined)
          assert.strictEqual(options.userTimeout, undefined)
          assert.strictEqual(options.reusePort, undefined)
          assert.strictEqual(options.reuseAddress, undefined)
          assert.isAbove(options.sendBufferSize!, 0)
        }
        assert.strictEqual(mine.receiveBufferSize, 16 * 1024 * (process.platform === "linux" ? 2 : 1))
        assert.isAbove(theirs.receiveBufferSize!, 0)
      }))

    test("the socket file: given its permissions before listen returns, removed when the scope closes", () =>
      Effect.gen(function*() {
        const folder = yield* fixture.folder
        for (const permissions of [0o600, 0o660]) {
          const path = `${folder}/mode-${permissions.toString(8)}.sock`
          const scope = yield* Scope.make()
          yield* Tcp.listen({ path, permissions }).pipe(Scope.provide(scope))
          assert.deepStrictEqual(yield* fixture.entry(path), { kind: "socket", permissions })
          yield* Tcp.connect({ path })
          yield* Scope.close(scope, Exit.void)
          assert.isUndefined(yield* fixture.entry(path), "the socket file outlived its listener")
          const gone = yield* Effect.flip(Tcp.connect({ path }))
          assert.strictEqual(gone._tag, "FileNotFoundError")
        }
      }))

    test("a stale socket file (its process died) refuses connects; listen replaces it", () =>
      Effect.gen(function*() {
        const path = `${yield* fixture.folder}/stale.sock`
        yield* fixture.leaveStaleSocket(path)
        assert.strictEqual((yield* fixture.entry(path))?.kind, "socket")
        const refused = yield* Effect.flip(Tcp.connect({ path }))
        assert.strictEqual(refused._tag, "ConnectionRefusedError")
        assert.strictEqual(refused.errno, errno.ECONNREFUSED)
        assert.strictEqual(refused.message, `[Errno ${errno.ECONNREFUSED}] Connection refused (${path})`)
        const server = yield* Tcp.listen({ path })
        yield* Effect.forkScoped(server.serve((connection) => connection.write("alive")))
        assert.strictEqual(yield* readAll(yield* Tcp.connect({ path })), "alive")
      }))

    test("a live listener's path is not taken: AddressInUseError, and the first listener goes on", () =>
      Effect.gen(function*() {
        const path = `${yield* fixture.folder}/live.sock`
        const first = yield* Tcp.listen({ path })
        yield* Effect.forkScoped(first.serve((connection) => connection.write("first")))
        const error = yield* Effect.flip(Tcp.listen({ path }))
        assert.strictEqual(error._tag, "AddressInUseError")
        assert.strictEqual(error.errno, errno.EADDRINUSE)
        assert.strictEqual(error.path, path)
        assert.include(error.message, "a live listener holds it")
        assert.include(error.message, `(${path})`)
        assert.strictEqual(yield* readAll(yield* Tcp.connect({ path })), "first")
      }))

    test("a path that is not a socket is never removed: AddressInUseError that says so; connects are refused", () =>
      Effect.gen(function*() {
        const path = `${yield* fixture.folder}/data.txt`
        yield* fixture.placeFile(path)
        const error = yield* Effect.flip(Tcp.listen({ path }))
        assert.strictEqual(error._tag, "AddressInUseError")
        assert.include(error.message, "is a regular file: it is not removed")
        assert.strictEqual((yield* fixture.entry(path))?.kind, "file")
        assert.strictEqual((yield* Effect.flip(Tcp.connect({ path })))._tag, "ConnectionRefusedError")
      }))

    test("no socket at the path: connect fails with FileNotFoundError (ENOENT) naming the path", () =>
      Effect.gen(function*() {
        const path = `${yield* fixture.folder}/nobody.sock`
        const error = yield* Effect.flip(Tcp.connect({ path }))
        assert.strictEqual(error._tag, "FileNotFoundError")
        assert.strictEqual(error.code, "ENOENT")
        assert.strictEqual(error.errno, errno.ENOENT)
        assert.strictEqual(error.syscall, "connect")
        assert.strictEqual(error.message, `[Errno ${errno.ENOENT}] No such file or directory (${path})`)
      }))

    test("a missing directory: listen and connect fail with FileNotFoundError (ENOENT)", () =>
      Effect.gen(function*() {
        const directory = `${yield* fixture.folder}/missing`
        yield* fixture.missingDirectory(directory)
        const path = `${directory}/s.sock`
        const listening = yield* Effect.flip(Tcp.listen({ path }))
        assert.strictEqual(listening._tag, "FileNotFoundError")
        assert.strictEqual(listening.errno, errno.ENOENT)
        assert.strictEqual(listening.path, path)
        assert.strictEqual((yield* Effect.flip(Tcp.connect({ path })))._tag, "FileNotFoundError")
      }))

    const denied = fixture.deniedDirectory
    const deniedTitle = "a directory the process may not enter: listen and connect fail with PermissionError"
    if (denied === undefined) {
      it.skip(`${deniedTitle} (skipped: running as root, whom the kernel lets into any directory)`, () => {})
    } else {
      test(deniedTitle, () =>
        Effect.gen(function*() {
          const directory = `${yield* fixture.folder}/locked`
          yield* denied(directory)
          const path = `${directory}/s.sock`
          const listening = yield* Effect.flip(Tcp.listen({ path }))
          assert.strictEqual(listening._tag, "PermissionError")
          assert.strictEqual(listening.errno, errno.EACCES)
          assert.strictEqual(listening.path, path)
          assert.strictEqual((yield* Effect.flip(Tcp.connect({ path })))._tag, "PermissionError")
        }))
    }

    test("a path longer than sun_path holds fails with OSError (ENAMETOOLONG) naming it; the longest one works", () =>
      Effect.gen(function*() {
        const folder = yield* fixture.folder
        const longest = maximumLength ?? 103
        const fits = `${folder}/${"x".repeat(longest - folder.length - 1)}`
        assert.strictEqual(Buffer.byteLength(fits), longest)
        const server = yield* Tcp.listen({ path: fits })
        assert.strictEqual((server.address as Address.UnixAddress).path, fits)
        yield* Tcp.connect({ path: fits })
        const tooLong = `${fits}y`
        for (
          const error of [
            yield* Effect.flip(Tcp.listen({ path: tooLong })),
            yield* Effect.flip(Tcp.connect({ path: tooLong }))
          ]
        ) {
          assert.strictEqual(error._tag, "OSError")
          assert.strictEqual(error.code, "ENAMETOOLONG")
          assert.strictEqual(error.errno, errno.ENAMETOOLONG)
          assert.strictEqual(error.path, tooLong)
          assert.include(error.message, `AF_UNIX path too long: ${longest + 1} bytes, at most ${longest}`)
          assert.include(error.message, tooLong)
        }
      }))

    test("an empty path, or a path with a port, fails with OSError (EINVAL) before touching anything", () =>
      Effect.gen(function*() {
        const empty = yield* Effect.flip(Tcp.listen({ path: "" }))
        assert.strictEqual(empty.code, "EINVAL")
        assert.include(empty.message, "path must be a non-empty string")
        assert.strictEqual((yield* Effect.flip(Tcp.connect({ path: "" }))).code, "EINVAL")
        const path = `${yield* fixture.folder}/both.sock`
        const both = yield* Effect.flip(Tcp.listen({ path, port: 80 } as unknown as Tcp.ListenOptions))
        assert.strictEqual(both.code, "EINVAL")
        assert.include(both.message, "not both")
        const mode = yield* Effect.flip(Tcp.listen({ path, permissions: 0o1777 }))
        assert.include(mode.message, "permissions must be a file mode from 0 to 0o777")
      }))

    test("shutdown removes the socket file at once: new connects fail with FileNotFoundError, handlers finish", () =>
      Effect.gen(function*() {
        const path = `${yield* fixture.folder}/drain.sock`
        const scope = yield* Scope.make()
        const server = yield* Tcp.listen({ path, shutdownGrace: "2 seconds" }).pipe(Scope.provide(scope))
        const release = yield* Deferred.make<void>()
        yield* server.serve((connection) => Effect.andThen(Deferred.await(release), connection.write("bye"))).pipe(
          Effect.forkIn(scope)
        )
        const client = yield* Tcp.connect({ path })
        yield* eventually(server.stats, (stats) => stats.active === 1)
        const closing = yield* Effect.forkChild(Scope.close(scope, Exit.void))
        yield* eventually(fixture.entry(path), (entry) => entry === undefined)
        assert.strictEqual((yield* Effect.flip(Tcp.connect({ path })))._tag, "FileNotFoundError")
        yield* Deferred.succeed(release, undefined)
        assert.strictEqual(yield* readAll(client), "bye")
        yield* Fiber.join(closing)
      }))

    const abstractTitle = "a Linux abstract name: no file, shown as @name, refused once its listener is gone"
    if (process.platform !== "linux") {
      it.skip(`${abstractTitle} (skipped: abstract names are Linux-only)`, () => {})
    } else {
      test(abstractTitle, () =>
        Effect.gen(function*() {
          const name = `effect-tcp-test-${process.pid}-${Math.random().toString(36).slice(2)}`
          const path = `\0${name}`
          const scope = yield* Scope.make()
          const server = yield* Tcp.listen({ path }).pipe(Scope.provide(scope))
          assert.deepStrictEqual(server.address, { family: "Unix", path })
          assert.strictEqual(Address.format(server.address), `@${name}`)
          yield* Effect.forkIn(server.serve((connection) => connection.write("abstract")), scope)
          assert.strictEqual(yield* readAll(yield* Tcp.connect({ path })), "abstract")
          const taken = yield* Effect.flip(Tcp.listen({ path }))
          assert.strictEqual(taken._tag, "AddressInUseError")
          assert.include(taken.message, `(@${name})`)
          const mode = yield* Effect.flip(Tcp.listen({ path: `\0other-${name}`, permissions: 0o600 }))
          assert.strictEqual(mode.code, "EINVAL")
          yield* Scope.close(scope, Exit.void)
          const refused = yield* Effect.flip(Tcp.connect({ path }))
          assert.strictEqual(refused._tag, "ConnectionRefusedError")
          // and the name is free again
          yield* Tcp.listen({ path })
        }))
    }
  })
}
