// The contract of IPv6, run on both layers from contract.test.ts: the IPv6
// loopback, a dual-stack listener on `::` (its IPv4 peers in IPv4 form), and
// `ipv6Only`. On a machine without an IPv6 loopback the Node layer's cases are
// skipped, and say why.
import { assert, describe, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import type { Layer, Scope } from "effect"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Address from "../src/Address.ts"
import * as Tcp from "../src/Tcp.ts"
import { decode, encode, reader } from "./util.ts"

const errno = Os.constants.errno

const bounded = "10 seconds"

/** Whether `::1` can be bound here: `undefined` if so, else why not. */
export const ipv6LoopbackMissing = (): Promise<string | undefined> =>
  new Promise((resolve) => {
    const server = Net.createServer()
    server.once("error", (error: NodeJS.ErrnoException) => resolve(`binding ::1 failed with ${error.code}`))
    server.listen({ host: "::1", port: 0 }, () => server.close(() => resolve(undefined)))
  })

export interface Ipv6ContractOptions {
  /** Why this layer cannot run IPv6 here (the machine has no IPv6 loopback): its cases are skipped. */
  readonly unavailable?: string | undefined
}

export const contractIpv6 = (name: string, layer: Layer.Layer<Tcp.Tcp>, options: Ipv6ContractOptions = {}): void => {
  const test = (title: string, body: () => Effect.Effect<void, unknown, Tcp.Tcp | Scope.Scope>) =>
    options.unavailable !== undefined
      ? it.skip(`${title} (skipped: no IPv6 loopback on this machine: ${options.unavailable})`, () => {})
      : it.live(title, () => body().pipe(Effect.scoped, Effect.provide(layer), Effect.timeout(bounded)))

  describe(`IPv6 contract: ${name}`, () => {
    test("::1: listen and connect pair IPv6 addresses, shown in brackets; the bytes go both ways", () =>
      Effect.gen(function*() {
        const server = yield* Tcp.listen({ host: "::1" })
        assert.deepStrictEqual(server.address, { family: "IPv6", host: "::1", port: server.address.port })
        assert.strictEqual(Address.format(server.address), `[::1]:${server.address.port}`)
        yield* Effect.forkScoped(server.serve((connection) => Stream.run(connection.stream, connection.sink)))
        const client = yield* Tcp.connect({ host: "::1", port: server.address.port })
        assert.deepStrictEqual(client.remoteAddress, server.address)
        assert.deepStrictEqual(client.localAddress, {
          family: "IPv6",
          host: "::1",
          port: (client.localAddress as Address.InetAddress).port
        })
        const read = yield* reader(client)
        yield* client.write(encode("over IPv6"))
        assert.strictEqual(decode(yield* read.read(9)), "over IPv6")
      }))

    test("dual stack: on ::, an IPv4 client connects, and each end sees the other in IPv4 form", () =>
      Effect.gen(function*() {
        const server = yield* Tcp.listen({ host: "::" })
        assert.deepStrictEqual(server.address, { family: "IPv6", host: "::", port: server.address.port })
        const port = server.address.port
        const v4 = yield* Tcp.connect({ host: "127.0.0.1", port })
        const acceptedV4 = yield* server.accept
        // not ::ffff:127.0.0.1: the address the client sees as its own
        assert.deepStrictEqual(acceptedV4.remoteAddress, v4.localAddress)
        assert.deepStrictEqual(acceptedV4.localAddress, { family: "IPv4", host: "127.0.0.1", port })
        assert.deepStrictEqual(v4.remoteAddress, acceptedV4.localAddress)
        const v6 = yield* Tcp.connect({ host: "::1", port })
        const acceptedV6 = yield* server.accept
        assert.deepStrictEqual(acceptedV6.remoteAddress, v6.localAddress)
        assert.deepStrictEqual(acceptedV6.localAddress, { family: "IPv6", host: "::1", port })
        // and 127.0.0.1 on its port is taken: :: took every IPv4 address too
        assert.strictEqual((yield* Effect.flip(Tcp.listen({ port }))).code, "EADDRINUSE")
      }))

    test("ipv6Only: on ::, IPv4 clients are refused, and 127.0.0.1 can bind the same port", () =>
      Effect.gen(function*() {
        const server = yield* Tcp.listen({ host: "::", ipv6Only: true })
        const port = server.address.port
        const refused = yield* Effect.flip(Tcp.connect({ host: "127.0.0.1", port }))
        assert.strictEqual(refused._tag, "ConnectionRefusedError")
        yield* Tcp.connect({ host: "::1", port })
        const beside = yield* Tcp.listen({ port })
        assert.deepStrictEqual(beside.address, { family: "IPv4", host: "127.0.0.1", port })
        yield* Tcp.connect({ host: "127.0.0.1", port })
        assert.strictEqual((yield* beside.stats).accepted + (yield* server.stats).accepted, 2)
        assert.strictEqual((yield* beside.stats).accepted, 1)
      }))

    test("the families' loopbacks are separate: ::1 and 127.0.0.1 bind the same port, each reached by its own", () =>
      Effect.gen(function*() {
        const v4 = yield* Tcp.listen()
        const port = v4.address.port
        const v6 = yield* Tcp.listen({ host: "::1", port })
        yield* Tcp.connect({ host: "::1", port })
        assert.strictEqual((yield* v6.stats).accepted, 1)
        assert.strictEqual((yield* v4.stats).accepted, 0)
      }))

    test("an IPv6 address in brackets, as addresses are formatted, is the same address", () =>
      Effect.gen(function*() {
        const server = yield* Tcp.listen({ host: "[::1]" })
        assert.strictEqual(server.address.host, "::1")
        const client = yield* Tcp.connect({ host: "[::1]", port: server.address.port })
        assert.deepStrictEqual(client.remoteAddress, server.address)
        const error = yield* Effect.flip(Tcp.connect({ host: "[::1]", port: 1 }))
        assert.strictEqual(error.host, "::1")
      }))

    test("connect to ::1 where nothing listens: ConnectionRefusedError, the address in brackets", () =>
      Effect.gen(function*() {
        const server = yield* Tcp.listen()
        const port = server.address.port
        const error = yield* Effect.flip(Tcp.connect({ host: "::1", port }))
        assert.strictEqual(error._tag, "ConnectionRefusedError")
        assert.strictEqual(error.host, "::1")
        assert.strictEqual(error.message, `[Errno ${errno.ECONNREFUSED}] Connection refused ([::1]:${port})`)
      }))
  })
}
