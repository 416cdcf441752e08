// The Tls module beside the contract suite (contract-tls.ts): options that fail
// before anything connects, STARTTLS used wrongly, and what the fake network
// shows of TLS: ciphertext on its wire, close_notify before the FIN, and its
// faults (stall, resetAfter) applied to the TLS records, on its Clock.
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Fiber, Scope, Stream } from "effect"
import type { Layer } from "effect"
import { TestClock } from "effect/testing"
import * as Os from "node:os"
import { FakeNetwork } from "../src/FakeNetwork.ts"
import * as Tcp from "../src/Tcp.ts"
import * as Tls from "../src/Tls.ts"
import { certificates } from "./tls/certs.ts"
import { concat, decode, readAll, reader } from "./util.ts"

const certs = certificates()
const serverTls: Tls.TlsListenOptions = { cert: certs.server.cert, key: certs.server.key }
const clientTls: Tls.TlsConnectOptions = { ca: certs.ca }
const errno = Os.constants.errno

/** Real turns of the event loop, for node:tls, while the TestClock stands still. */
const realTime = (millis: number) => Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, millis)))

const defectOf = (exit: Exit.Exit<unknown, unknown>): string =>
  Exit.isFailure(exit) && Cause.hasDies(exit.cause) ? String(Cause.squash(exit.cause)) : "no defect"

const layers: ReadonlyArray<readonly [string, Layer.Layer<Tcp.Tcp>]> = [["loopback", Tcp.layer], [
  "fake",
  Tcp.layerTest
]]

describe.each(layers)("Tls on %s", (_, layer) => {
  const test = (title: string, body: () => Effect.Effect<void, unknown, Tcp.Tcp | Scope.Scope>) =>
    it.live(title, () => body().pipe(Effect.scoped, Effect.provide(layer), Effect.timeout("10 seconds")))

  test("options out of range fail with OSError (EINVAL), naming them, before anything connects", () =>
    Effect.gen(function*() {
      const server = yield* Tcp.listen()
      const port = server.address.port
      const cases: ReadonlyArray<readonly [Tls.TlsConnectOptions, string]> = [
        [{ minVersion: "TLSv1.3", maxVersion: "TLSv1.2" }, "tls.minVersion TLSv1.3 is above tls.maxVersion"],
        [{ alpnProtocols: [""] }, `tls.alpnProtocols: "" must be 1 to 255 bytes`],
        [{ handshakeTimeout: "0 millis" }, "tls.handshakeTimeout must be above zero"],
        [{ serverName: "" }, "tls.serverName must not be empty"],
        [{ key: certs.client.key }, "tls.key needs tls.cert"]
      ]
      for (const [tls, detail] of cases) {
        const error = yield* Effect.flip(Tcp.connect({ port, tls }))
        assert.strictEqual(error._tag, "OSError", detail)
        assert.strictEqual(error.code, "EINVAL")
        assert.strictEqual(error.errno, errno.EINVAL)
        assert.include(error.message, detail)
      }
      const noKey = yield* Effect.flip(Tcp.listen({ tls: { cert: certs.server.cert } as Tls.TlsListenOptions }))
      assert.include(noKey.message, "tls needs cert and key")
      const policy = yield* Effect.flip(
        Tcp.listen({ tls: { ...serverTls, clientCertificates: "maybe" as "none" } })
      )
      assert.include(policy.message, "tls.clientCertificates must be")
      assert.strictEqual((yield* server.stats).accepted, 0)
    }))

  test("startTls while a fiber reads the connection is a defect that says so", () =>
    Effect.gen(function*() {
      const server = yield* Tcp.listen()
      const client = yield* Tcp.connect({ port: server.address.port })
      yield* server.accept
      const reading = yield* Effect.forkChild(readAll(client))
      yield* Effect.sleep(20)
      const exit = yield* Effect.exit(Tls.startTls(client, { role: "client", ...clientTls }))
      assert.match(defectOf(exit), /a fiber is reading connection \d+/)
      yield* Fiber.interrupt(reading)
    }))

  test("startTls twice on one connection, on a TLS one, or on one of another layer, is a defect", () =>
    Effect.gen(function*() {
      const server = yield* Tcp.listen()
      const client = yield* Tcp.connect({ port: server.address.port })
      const accepted = yield* server.accept
      yield* Effect.forkChild(Tls.startTls(accepted, { role: "server", ...serverTls }))
      yield* Tls.startTls(client, { role: "client", ...clientTls })
      const again = yield* Effect.exit(Tls.startTls(client, { role: "client", ...clientTls }))
      assert.match(defectOf(again), /was upgraded already/)
      const server2 = yield* Tcp.listen({ tls: serverTls })
      const secure = yield* Tcp.connect({ port: server2.address.port, tls: clientTls })
      const nested = yield* Effect.exit(Tls.startTls(secure, { role: "client", ...clientTls }))
      assert.match(defectOf(nested), /speaks TLS already/)
      const foreign = yield* Effect.exit(
        Tls.startTls(client, { role: "client", ...clientTls }).pipe(
          Effect.provide(layer === Tcp.layer ? Tcp.layerTest : Tcp.layer)
        )
      )
      assert.match(defectOf(foreign), /not .*one of Tcp\.layer/)
    }))

  test("startTls after the peer's end fails with SSLEOFError: no handshake can follow", () =>
    Effect.gen(function*() {
      const server = yield* Tcp.listen()
      const client = yield* Tcp.connect({ port: server.address.port })
      const accepted = yield* server.accept
      yield* accepted.end
      assert.strictEqual(yield* readAll(client), "")
      const error = yield* Effect.flip(Tls.startTls(client, { role: "client", ...clientTls }))
      assert.strictEqual(error._tag, "SSLEOFError")
    }))

  test("a role that is neither side fails with OSError (EINVAL)", () =>
    Effect.gen(function*() {
      const server = yield* Tcp.listen()
      const client = yield* Tcp.connect({ port: server.address.port })
      const error = yield* Effect.flip(Tls.startTls(client, { role: "both" } as unknown as Tls.StartTlsOptions))
      assert.strictEqual(error.code, "EINVAL")
    }))
})

const fake = <A, E>(self: Effect.Effect<A, E, Tcp.Tcp | FakeNetwork | Scope.Scope>): Effect.Effect<A, E> =>
  self.pipe(Effect.scoped, Effect.provide(Tcp.layerTest))

const contains = (haystack: Uint8Array, needle: Buffer): boolean => Buffer.from(haystack).includes(needle)

describe("Tls on the fake network's wire", () => {
  it.live("the wire carries TLS records, never the plaintext", () =>
    fake(Effect.gen(function*() {
      const network = yield* FakeNetwork
      const server = yield* Tcp.listen({ tls: serverTls })
      const client = yield* Tcp.connect({ port: server.address.port, tls: clientTls })
      const accepted = yield* server.accept
      yield* client.write("top secret")
      yield* client.end
      assert.strictEqual(yield* readAll(accepted), "top secret")
      const data = (yield* network.wireLog).filter((event) => event.kind === "data")
      // a handshake record first (0x16), application data records after (0x17)
      assert.strictEqual(data[0]!.bytes![0], 0x16)
      assert.isTrue(data.some((event) => event.bytes![0] === 0x17))
      assert.isFalse(contains(concat(data.map((event) => event.bytes!)), Buffer.from("top secret")))
    })).pipe(Effect.timeout("10 seconds")))

  it.live("closing a TLS connection sends close_notify (an alert record under TLS 1.2) before its FIN", () =>
    fake(Effect.gen(function*() {
      const network = yield* FakeNetwork
      const server = yield* Tcp.listen({ tls: serverTls })
      const scope = yield* Scope.make()
      const client = yield* Tcp.connect({
        port: server.address.port,
        tls: { ...clientTls, maxVersion: "TLSv1.2" }
      }).pipe(Scope.provide(scope))
      const accepted = yield* server.accept
      const read = yield* reader(accepted)
      yield* client.write("bye")
      // everything written has left (and node:tls knows it, a turn later): the close has nothing to flush
      assert.strictEqual(decode(yield* read.read(3)), "bye")
      yield* Effect.sleep(50)
      yield* Scope.close(scope, Exit.void)
      assert.strictEqual((yield* read.rest).length, 0)
      const sent = (yield* network.wireLog).filter((event) => event.connection === client.id)
      const last = sent.filter((event) => event.kind === "data").at(-1)!
      assert.strictEqual(last.bytes![0], 0x15, "the last record is an alert: close_notify")
      assert.oneOf(sent.at(-1)!.kind, ["fin", "close"])
      assert.isAbove(sent.indexOf(sent.at(-1)!), sent.indexOf(last))
    })).pipe(Effect.timeout("10 seconds")))

  it.effect("stall: a handshake that gets no answer fails with TimeoutError on the Clock", () =>
    fake(Effect.gen(function*() {
      const network = yield* FakeNetwork
      const server = yield* Tcp.listen({ tls: { ...serverTls, handshakeTimeout: "1 minute" } })
      yield* network.stall(true)
      const connecting = yield* Effect.forkChild(
        Effect.flip(Tcp.connect({ port: server.address.port, tls: { ...clientTls, handshakeTimeout: "30 seconds" } }))
      )
      yield* realTime(50)
      yield* TestClock.adjust("29 seconds")
      assert.isUndefined(connecting.pollUnsafe())
      yield* TestClock.adjust("1 second")
      const error = yield* Fiber.join(connecting)
      assert.strictEqual(error._tag, "TimeoutError")
      assert.include(error.message, "TLS handshake timed out after 30s")
    })))

  it.live("resetAfter: a reset in the middle of the TLS records fails the reader with ConnectionResetError", () =>
    fake(Effect.gen(function*() {
      const network = yield* FakeNetwork
      yield* network.resetAfter(32 * 1024)
      const server = yield* Tcp.listen({ tls: serverTls })
      const client = yield* Tcp.connect({ port: server.address.port, tls: clientTls })
      const accepted = yield* server.accept
      yield* Effect.forkChild(Effect.exit(client.write(new Uint8Array(256 * 1024))))
      const error = yield* Effect.flip(Stream.runDrain(accepted.stream))
      assert.strictEqual(error._tag, "ConnectionResetError")
      assert.isBelow(yield* accepted.bytesRead, 32 * 1024)
    })).pipe(Effect.timeout("10 seconds")))
})
