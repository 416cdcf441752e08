// EffectSocket on both layers: Effect's RPC over our sockets (the README's example), a client that survives a
// server restart, and our typed errors as the causes of effect/socket's errors.
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Exit, Layer, Schedule, Scope } from "effect"
import * as NetAddress from "effect/net/NetAddress"
import { RpcClient, RpcSerialization } from "effect/rpc"
import * as SocketServer from "effect/socket/SocketServer"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { greet, Greeter, GreeterLive, greeterProtocol, greeterServer } from "../examples/rpc.ts"
import * as EffectSocket from "../src/EffectSocket.ts"
import * as Tcp from "../src/Tcp.ts"

const layers: ReadonlyArray<readonly [string, Layer.Layer<Tcp.Tcp>]> = [["loopback", Tcp.layer], [
  "fake",
  Tcp.layerTest
]]

const portOf = (address: NetAddress.SocketAddress): number => {
  assert.isTrue(NetAddress.isInetAddress(address), `an IP address: ${address._tag}`)
  return (address as NetAddress.InetAddress).port
}

/** The example's server on a SocketServer bound to `port` (0: a free one), in `scope`; its port. */
const startServer = (port: number, scope: Scope.Scope) =>
  Effect.map(
    Layer.buildWithScope(GreeterLive.pipe(Layer.provideMerge(EffectSocket.layerServer({ port }))), scope),
    (context) => portOf(Context.get(context, SocketServer.SocketServer).address)
  )

describe.each(layers)("EffectSocket on %s", (_, layer) => {
  const test = (title: string, body: () => Effect.Effect<void, unknown, Tcp.Tcp | Scope.Scope>) =>
    it.live(title, () => body().pipe(Effect.scoped, Effect.provide(layer), Effect.timeout("10 seconds")))

  test("the README's RPC example: greet calls greeterServer", () =>
    Effect.gen(function*() {
      const port = yield* startServer(0, yield* Effect.scope)
      assert.strictEqual(yield* greet(port, "World"), "Hello, World!")
    }))

  test("makeServer's address is the bound one: the port when 0 was asked for", () =>
    Effect.gen(function*() {
      const server = yield* EffectSocket.makeServer({ port: 0 })
      assert.strictEqual(server.address._tag, "InetAddressV4")
      const port = portOf(server.address)
      assert.isTrue(port > 0)
      assert.strictEqual(NetAddress.formatSocketAddress(server.address), `127.0.0.1:${port}`)
      yield* Tcp.connect({ port })
    }))

  test("makeServer on a Unix socket: its address is a UnixPathAddress, and the RPC example works over it", () =>
    Effect.gen(function*() {
      const folder = yield* Effect.acquireRelease(
        Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "effect-tcp-rpc-"))),
        (folder) => Effect.sync(() => Fs.rmSync(folder, { recursive: true, force: true }))
      )
      const path = Path.join(folder, "rpc.sock")
      const server = yield* EffectSocket.makeServer({ path })
      assert.isTrue(NetAddress.isUnixPathAddress(server.address))
      assert.strictEqual(NetAddress.formatSocketAddress(server.address), path)
      yield* Layer.build(GreeterLive.pipe(Layer.provideMerge(EffectSocket.layerServer({ path: `${path}2` }))))
      const protocol = yield* Layer.build(
        RpcClient.layerProtocolSocket().pipe(
          Layer.provide(EffectSocket.layer({ path: `${path}2` })),
          Layer.provide(RpcSerialization.layerNdjson)
        )
      )
      const client = yield* Effect.provideContext(RpcClient.make(Greeter), protocol)
      assert.strictEqual(yield* client.Greet({ name: "Unix" }), "Hello, Unix!")
    }))

  test("an RPC client keeps working across a server restart on the same port", () =>
    Effect.gen(function*() {
      const first = yield* Scope.make()
      const port = yield* startServer(0, first)
      const protocol = yield* Layer.build(greeterProtocol(port))
      const client = yield* Effect.provideContext(RpcClient.make(Greeter), protocol)
      assert.strictEqual(yield* client.Greet({ name: "before" }), "Hello, before!")

      yield* Scope.close(first, Exit.void)
      // no server: the call fails with a typed error (not a defect, even if it was written to the dead connection)
      const down = yield* Effect.flip(client.Greet({ name: "down" }))
      assert.strictEqual(down._tag, "RpcClientError")

      yield* Layer.build(greeterServer(port))
      const after = yield* client.Greet({ name: "after" }).pipe(Effect.retry(Schedule.spaced("50 millis")))
      assert.strictEqual(after, "Hello, after!")
    }))

  test("a refused connect fails the reader with a SocketOpenError whose cause is the typed error", () =>
    Effect.gen(function*() {
      const port = yield* Tcp.listen().pipe(Effect.map((server) => server.address.port), Effect.scoped)
      const socket = yield* EffectSocket.connect({ port })
      const error = yield* Effect.flip(socket.reader)
      assert.strictEqual(error.reason._tag, "SocketOpenError")
      const cause = error.reason.cause as { readonly _tag: string; readonly message: string }
      assert.strictEqual(cause._tag, "ConnectionRefusedError")
      assert.match(cause.message, /^\[Errno \d+\] Connection refused \(127\.0\.0\.1:\d+\)$/)
    }))

  test("a failed listen is a SocketServerError whose cause is the typed error", () =>
    Effect.gen(function*() {
      const taken = yield* Tcp.listen()
      const error = yield* Effect.flip(EffectSocket.makeServer({ port: taken.address.port }))
      assert.strictEqual(error.reason._tag, "SocketServerOpenError")
      assert.strictEqual((error.reason.cause as { readonly _tag: string })._tag, "AddressInUseError")
    }))
})
