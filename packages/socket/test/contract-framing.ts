// The framing codecs over real connections, run against every layer by
// `contract.test.ts` beside the Tcp contract: echoes through the codecs with
// writes cut small, and the typed errors a peer can cause, each at once.
//
// On the fake network every write is cut into segments of a few bytes
// (`FakeNetwork.splitWrites`); on loopback the client writes in small pieces,
// which the kernel may or may not join.
import { assert, describe, it } from "@effect/vitest"
import { Effect, Option, Stream } from "effect"
import type { Layer, Scope } from "effect"
import type { Connection } from "../src/Connection.ts"
import * as FakeNetwork from "../src/FakeNetwork.ts"
import * as Framing from "../src/Framing.ts"
import { IncompleteReadError, LimitOverrunError } from "../src/StreamError.ts"
import * as Tcp from "../src/Tcp.ts"
import { concat, decode, encode } from "./util.ts"

const bounded = "10 seconds"
/** How long a peer's error may take to show: far less than a stalled read would. */
const atOnce = "2 seconds"

/** Cuts every write into `size`-byte segments where the network can (the fake one). */
const cutWrites = (size: number) =>
  Effect.flatMap(
    Effect.serviceOption(FakeNetwork.FakeNetwork),
    (network) => Option.isSome(network) ? network.value.splitWrites(size) : Effect.void
  )

/** Writes `bytes` in pieces of `size` bytes, one write each. */
const writeInPieces = (connection: Connection, bytes: Uint8Array, size: number) =>
  Effect.forEach(
    Array.from({ length: Math.ceil(bytes.length / size) }, (_, i) => bytes.subarray(i * size, (i + 1) * size)),
    (piece) => connection.write(piece),
    { discard: true }
  )

/** A server and a client connected to it, and the accepted side. */
const pair = Effect.gen(function*() {
  const server = yield* Tcp.listen()
  const client = yield* Tcp.connect({ port: server.address.port })
  const accepted = yield* server.accept
  return { client, accepted }
})

export const contractFraming = (name: string, layer: Layer.Layer<Tcp.Tcp>): void => {
  const test = (title: string, body: () => Effect.Effect<void, unknown, Tcp.Tcp | Scope.Scope>) =>
    it.live(title, () => body().pipe(Effect.scoped, Effect.provide(layer), Effect.timeout(bounded)))

  describe(`Framing over connections: ${name}`, () => {
    test("a line echo: lines cut anywhere, \\r\\n, multi-byte characters and a last line at the FIN", () =>
      Effect.gen(function*() {
        yield* cutWrites(1)
        const { accepted, client } = yield* pair
        const shout = accepted.stream.pipe(
          Framing.decodeLines({ maxLength: 16 }),
          Stream.map((line) => line.toUpperCase()),
          Framing.encodeLines,
          Stream.run(accepted.sink),
          Effect.andThen(accepted.end)
        )
        yield* Effect.forkScoped(shout)
        yield* writeInPieces(client, encode("héllo\r\nwörld €\n\nlast"), 3)
        yield* client.end
        const reply = yield* client.stream.pipe(Framing.decodeLines({ maxLength: 16 }), Stream.runCollect)
        assert.deepStrictEqual(reply, ["HÉLLO", "WÖRLD €", "", "LAST"])
      }))

    test("a frame echo: frames cut anywhere, an empty one and one of 20 KB", () =>
      Effect.gen(function*() {
        yield* cutWrites(7)
        const { accepted, client } = yield* pair
        const options = { lengthBytes: 4, endian: "little", maxFrameLength: 200_000 } as const
        const echo = accepted.stream.pipe(
          Framing.decodeLengthPrefixed(options),
          Framing.encodeLengthPrefixed(options),
          Stream.run(accepted.sink),
          Effect.andThen(accepted.end)
        )
        yield* Effect.forkScoped(echo)
        const big = new Uint8Array(20_000).map((_, i) => i % 251)
        const frames = [encode("one"), new Uint8Array(0), big, encode("two")]
        const wire = concat(
          yield* Stream.runCollect(Stream.fromIterable(frames).pipe(Framing.encodeLengthPrefixed(options)))
        )
        yield* writeInPieces(client, wire, 1000)
        yield* client.end
        const reply = yield* client.stream.pipe(Framing.decodeLengthPrefixed(options), Stream.runCollect)
        assert.deepStrictEqual(reply.map((frame) => [...frame]), frames.map((frame) => [...frame]))
      }))

    test("a line over the limit fails the reader with LimitOverrunError at once, before any FIN", () =>
      Effect.gen(function*() {
        yield* cutWrites(4)
        const { accepted, client } = yield* pair
        yield* client.write(encode("short\nfar too long for the limit"))
        const lines: Array<string> = []
        const error = yield* accepted.stream.pipe(
          Framing.decodeLines({ maxLength: 8 }),
          Stream.runForEach((line) => Effect.sync(() => lines.push(line))),
          Effect.flip,
          Effect.timeout(atOnce)
        )
        assert.deepStrictEqual(lines, ["short"])
        assert.instanceOf(error, LimitOverrunError)
        assert.deepInclude(error, { limit: 8, consumed: 9 })
      }))

    test("a declared length past the maximum fails with LimitOverrunError at once, before the body", () =>
      Effect.gen(function*() {
        yield* cutWrites(1)
        const { accepted, client } = yield* pair
        yield* client.write(new Uint8Array([0, 0, 1, 0, 1, 2, 3]))
        const error = yield* accepted.stream.pipe(
          Framing.decodeLengthPrefixed({ maxFrameLength: 255 }),
          Stream.runDrain,
          Effect.flip,
          Effect.timeout(atOnce)
        )
        assert.instanceOf(error, LimitOverrunError)
        assert.deepInclude(error, { limit: 255, consumed: 4, what: "a frame of 256 bytes" })
      }))

    test("a frame cut short by the peer's FIN fails with IncompleteReadError, in its body or its header", () =>
      Effect.gen(function*() {
        yield* cutWrites(2)
        const body = yield* pair
        yield* body.client.write(new Uint8Array([0, 0, 0, 10, 1, 2, 3, 4]))
        yield* body.client.end
        const inBody = yield* body.accepted.stream.pipe(Framing.decodeLengthPrefixed(), Stream.runDrain, Effect.flip)
        assert.instanceOf(inBody, IncompleteReadError)
        assert.deepStrictEqual([...inBody.partial], [1, 2, 3, 4])
        assert.strictEqual(inBody.expected, 10)

        const header = yield* pair
        yield* header.client.write(new Uint8Array([0, 0, 0, 1, 9, 0, 0]))
        yield* header.client.end
        const frames: Array<string> = []
        const inHeader = yield* header.accepted.stream.pipe(
          Framing.decodeLengthPrefixed(),
          Stream.runForEach((frame) => Effect.sync(() => frames.push(decode(frame)))),
          Effect.flip
        )
        assert.deepStrictEqual(frames, ["\t"])
        assert.instanceOf(inHeader, IncompleteReadError)
        assert.deepStrictEqual([...inHeader.partial], [0, 0])
        assert.strictEqual(inHeader.expected, 4)
      }))
  })
}
