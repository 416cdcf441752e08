// The Reader's contract (asyncio's StreamReader semantics), run on both layers
// from contract.test.ts: every operation, the peer's FIN in the middle of each,
// overruns and the state they leave, the handover to `stream` and `copyTo`,
// and a property test of random operations over randomly cut bytes against a
// model of asyncio's reader.
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Fiber, Option, Stream } from "effect"
import type { Layer, Scope } from "effect"
import * as fc from "fast-check"
import type { Connection } from "../src/Connection.ts"
import { FakeNetwork } from "../src/FakeNetwork.ts"
import * as Reader from "../src/Reader.ts"
import * as Tcp from "../src/Tcp.ts"
import { concat, decode, encode, eventually, liveProperty, readAll } from "./util.ts"

const bounded = "10 seconds"

/** A connected pair; the accepted end is the one read. */
const pair = (options?: Tcp.TcpListenOptions & Tcp.CommonListenOptions) =>
  Effect.gen(function*() {
    const server = yield* Tcp.listen(options)
    const client = yield* Tcp.connect({ port: server.address.port })
    const accepted = yield* server.accept
    return { client, accepted }
  })

/** Sends `pieces` (one write each), then FIN, and waits until all of it arrived, so a first pull gets it all. */
const sendAll = (client: Connection, accepted: Connection, pieces: ReadonlyArray<string>, fin = true) =>
  Effect.gen(function*() {
    let total = 0
    for (const piece of pieces) {
      const bytes = encode(piece)
      total += bytes.length
      yield* client.write(bytes)
    }
    if (fin) yield* client.end
    yield* eventually(accepted.bytesRead, (n) => n === total)
  })

/** A 4-byte big-endian length, then the body. */
const frame = (body: string) => {
  const bytes = encode(body)
  const out = new Uint8Array(4 + bytes.length)
  new DataView(out.buffer).setUint32(0, bytes.length)
  out.set(bytes, 4)
  return out
}

const text = <E, R>(self: Effect.Effect<Uint8Array, E, R>) => Effect.map(self, decode)

const defectOf = (exit: Exit.Exit<unknown, unknown>): unknown =>
  Exit.isFailure(exit) ? Cause.squash(exit.cause) : undefined

export interface ReaderContractOptions {
  /** Cases of the property test (fewer on real sockets, which cost more each). */
  readonly runs: number
}

export const contractReader = (name: string, layer: Layer.Layer<Tcp.Tcp>, options: ReaderContractOptions): void => {
  const test = (title: string, body: () => Effect.Effect<void, unknown, Tcp.Tcp | Scope.Scope>) =>
    it.live(title, () => body().pipe(Effect.scoped, Effect.provide(layer), Effect.timeout(bounded)))

  describe(`Reader contract: ${name}`, () => {
    test("length-prefixed frames: readExactly(4) then the body, however the bytes are grouped", () =>
      Effect.gen(function*() {
        const { accepted, client } = yield* pair()
        const reader = yield* Reader.make(accepted)
        yield* client.writeAll([frame("hello"), frame(""), frame("world!")])
        const bodies: Array<string> = []
        const { readExactly } = reader // the operations are functions that may be passed around
        for (let i = 0; i < 3; i++) {
          const header = yield* readExactly(4)
          const length = new DataView(header.buffer, header.byteOffset, 4).getUint32(0)
          bodies.push(decode(yield* readExactly(length)))
        }
        assert.deepStrictEqual(bodies, ["hello", "", "world!"])
      }))

    test("read(n): up to n bytes of what is there, an empty array at the end; read(0) at once", () =>
      Effect.gen(function*() {
        const { accepted, client } = yield* pair()
        const reader = yield* Reader.make(accepted)
        assert.strictEqual((yield* reader.read(0)).length, 0)
        yield* sendAll(client, accepted, ["abcdef"])
        assert.strictEqual(yield* text(reader.read(4)), "abcd")
        assert.strictEqual(yield* text(reader.read(100)), "ef")
        assert.isFalse(yield* reader.atEof, "the FIN is not seen before a read meets it")
        assert.strictEqual((yield* reader.read(100)).length, 0)
        assert.isTrue(yield* reader.atEof)
        assert.strictEqual((yield* reader.read(1)).length, 0)
      }))

    test("readExactly: FIN in the middle fails with IncompleteReadError holding what came", () =>
      Effect.gen(function*() {
        const { accepted, client } = yield* pair()
        const reader = yield* Reader.make(accepted)
        yield* sendAll(client, accepted, ["abc", "de"])
        assert.strictEqual(yield* text(reader.readExactly(2)), "ab")
        const error = yield* Effect.flip(reader.readExactly(5))
        assert.strictEqual(error._tag, "IncompleteReadError")
        if (error._tag !== "IncompleteReadError") return
        assert.strictEqual(decode(error.partial), "cde")
        assert.strictEqual(error.expected, 5)
        assert.include(error.message, "after 3 of the 5 bytes expected")
        assert.isTrue(yield* reader.atEof)
        assert.strictEqual((yield* reader.readExactly(0)).length, 0)
      }))

    test("readUntil: through the separator (bytes or string, split across writes); FIN first: IncompleteReadError", () =>
      Effect.gen(function*() {
        const { accepted, client } = yield* pair()
        const reader = yield* Reader.make(accepted)
        const reading = yield* Effect.forkChild(Effect.all([
          text(reader.readUntil("\r\n")),
          text(reader.readUntil(encode("--"))),
          Effect.flip(reader.readUntil("\r\n"))
        ]))
        for (const piece of ["GET / HT", "TP/1.1\r", "\nbody-", "-tail"]) {
          yield* client.write(encode(piece))
          yield* Effect.sleep(5)
        }
        yield* client.end
        const [line, body, error] = yield* Fiber.join(reading)
        assert.strictEqual(line, "GET / HTTP/1.1\r\n")
        assert.strictEqual(body, "body--")
        assert.strictEqual(error._tag, "IncompleteReadError")
        if (error._tag !== "IncompleteReadError") return
        assert.strictEqual(decode(error.partial), "tail")
        assert.isUndefined(error.expected)
        assert.isTrue(yield* reader.atEof)
      }))

    test("readLine: lines through their newline, then what is left at the FIN, then empty arrays", () =>
      Effect.gen(function*() {
        const { accepted, client } = yield* pair()
        const reader = yield* Reader.make(accepted)
        yield* sendAll(client, accepted, ["one\ntw", "o\n\nno newline"])
        const lines: Array<string> = []
        for (let i = 0; i < 5; i++) lines.push(yield* text(reader.readLine))
        assert.deepStrictEqual(lines, ["one\n", "two\n", "\n", "no newline", ""])
        assert.isTrue(yield* reader.atEof)
      }))

    test("readUntil overrun: every byte stays in the reader, as in asyncio", () =>
      Effect.gen(function*() {
        const { accepted, client } = yield* pair()
        const reader = yield* Reader.make(accepted, { limit: 4 })
        // found past the limit
        yield* sendAll(client, accepted, ["abcdef|ghijklmn"], false)
        const found = yield* Effect.flip(reader.readUntil("|"))
        assert.strictEqual(found._tag, "LimitOverrunError")
        if (found._tag !== "LimitOverrunError") return
        assert.strictEqual(found.consumed, 0)
        assert.strictEqual(found.limit, 4)
        assert.strictEqual(found.noSeparatorBefore, 6)
        assert.include(found.message, "nothing consumed")
        assert.strictEqual(yield* reader.buffered, 15)
        assert.strictEqual(yield* text(reader.readExactly(4)), "abcd")
        assert.strictEqual(yield* text(reader.readUntil("|")), "ef|")
        // not found within the limit: nothing taken either, and the bytes read on
        const missing = yield* Effect.flip(reader.readUntil("|"))
        assert.strictEqual(missing._tag, "LimitOverrunError")
        if (missing._tag !== "LimitOverrunError") return
        assert.strictEqual(missing.consumed, 0)
        assert.isTrue(missing.noSeparatorBefore! > 4)
        yield* client.end
        assert.strictEqual(yield* text(reader.read(100)), "ghijklmn")
      }))

    test("readLine overrun: drops the line through its newline, or all it holds when none came", () =>
      Effect.gen(function*() {
        const { accepted, client } = yield* pair()
        const reader = yield* Reader.make(accepted, { limit: 4 })
        yield* sendAll(client, accepted, ["too long\nok\nalso too long"], false)
        const found = yield* Effect.flip(reader.readLine)
        assert.strictEqual(found._tag === "LimitOverrunError" && found.consumed, 9)
        assert.strictEqual(yield* text(reader.readLine), "ok\n")
        const missing = yield* Effect.flip(reader.readLine)
        assert.strictEqual(missing._tag === "LimitOverrunError" && missing.consumed, 13)
        assert.strictEqual(yield* reader.buffered, 0)
        // the rest of that line comes next, and reads as a line
        yield* client.write(encode("!\n"))
        yield* client.end
        assert.strictEqual(yield* text(reader.readLine), "!\n")
        assert.strictEqual((yield* reader.readLine).length, 0)
      }))

    test("a limit of 1: the separator may start at byte 1 at most; readExactly(2) overruns", () =>
      Effect.gen(function*() {
        const { accepted, client } = yield* pair()
        const reader = yield* Reader.make(accepted, { limit: 1 })
        yield* sendAll(client, accepted, ["\na\nab\nxyz"])
        assert.strictEqual(yield* text(reader.readLine), "\n")
        assert.strictEqual(yield* text(reader.readUntil("\n")), "a\n")
        const error = yield* Effect.flip(reader.readUntil("\n"))
        assert.strictEqual(error._tag, "LimitOverrunError")
        assert.strictEqual(yield* text(reader.readExactly(1)), "a")
        assert.strictEqual((yield* Effect.flip(reader.readExactly(2)))._tag, "LimitOverrunError")
        assert.strictEqual(yield* text(reader.readLine), "b\n")
        assert.strictEqual(yield* text(reader.read(2)), "xy")
        assert.strictEqual(yield* text(reader.readLine), "z")
        assert.isTrue(yield* reader.atEof)
      }))

    test("an interrupted read loses nothing: the next read gets every byte", () =>
      Effect.gen(function*() {
        const { accepted, client } = yield* pair()
        const reader = yield* Reader.make(accepted)
        yield* client.write(encode("12345"))
        const timedOut = yield* reader.readExactly(10).pipe(Effect.timeoutOption(50))
        assert.isTrue(Option.isNone(timedOut))
        yield* client.write(encode("67890"))
        assert.strictEqual(yield* text(reader.readExactly(10)), "1234567890")
      }))

    test("stream hands over the rest: the buffered bytes, then the connection's, none lost or repeated", () =>
      Effect.gen(function*() {
        const { accepted, client } = yield* pair()
        const reader = yield* Reader.make(accepted)
        yield* sendAll(client, accepted, ["header\nbody ", "part one, "], false)
        assert.strictEqual(yield* text(reader.readLine), "header\n")
        assert.strictEqual(yield* reader.buffered, 15)
        const rest = yield* Effect.forkChild(Stream.runCollect(reader.stream))
        yield* client.write(encode("part two"))
        yield* client.end
        assert.strictEqual(decode(concat(yield* Fiber.join(rest))), "body part one, part two")
        // after the stream's run the reader reads on (here: the end)
        assert.strictEqual((yield* reader.read(1)).length, 0)
      }))

    test("copyTo hands over the rest: buffered bytes written first, then the connection copied", () =>
      Effect.gen(function*() {
        const { accepted, client } = yield* pair()
        const reader = yield* Reader.make(accepted)
        yield* sendAll(client, accepted, ["PROXY 1\nfirst "], false)
        assert.strictEqual(yield* text(reader.readLine), "PROXY 1\n")
        // echo the rest back to the client
        const copying = yield* Effect.forkChild(reader.copyTo(accepted))
        yield* client.write(encode("second"))
        yield* client.end
        assert.strictEqual(yield* Fiber.join(copying), 12)
        yield* accepted.end
        assert.strictEqual(yield* readAll(client), "first second")
      }))

    test("bad arguments are defects that say what is wrong", () =>
      Effect.gen(function*() {
        const { accepted } = yield* pair()
        const made = yield* Effect.exit(Reader.make(accepted, { limit: 0 }))
        assert.include(String(defectOf(made)), "limit must be a whole number of bytes from 1, not 0")
        assert.isTrue(Cause.isIllegalArgumentError(defectOf(yield* Effect.exit(Reader.make(accepted, { limit: 1.5 })))))
        const reader = yield* Reader.make(accepted)
        assert.include(String(defectOf(yield* Effect.exit(reader.read(-1)))), "n must be a whole number")
        assert.include(String(defectOf(yield* Effect.exit(reader.readExactly(-1)))), "n must be a whole number")
        assert.include(String(defectOf(yield* Effect.exit(reader.readUntil("")))), "at least one byte")
      }))

    liveProperty(
      "property: random operations over randomly cut bytes give asyncio's results, within the bounds",
      scenario,
      runScenario,
      layer,
      options.runs
    )
  })
}

// --- the property test --------------------------------------------------------

type Operation =
  | { readonly op: "read"; readonly n: number }
  | { readonly op: "readExactly"; readonly n: number }
  | { readonly op: "readUntil"; readonly separator: Uint8Array }
  | { readonly op: "readLine" }
  | { readonly op: "atEof" }

interface Scenario {
  readonly data: Uint8Array
  readonly cuts: ReadonlyArray<number>
  readonly split: number | undefined
  readonly limit: number
  readonly operations: ReadonlyArray<Operation>
}

// few distinct bytes, so separators turn up
const byte = fc.constantFrom(0x0a, 0x61, 0x62, 0x7c)
const separator = fc.array(byte, { minLength: 1, maxLength: 3 }).map((bytes) => Uint8Array.from(bytes))
const operation: fc.Arbitrary<Operation> = fc.oneof(
  fc.record({ op: fc.constant("read" as const), n: fc.nat(24) }),
  fc.record({ op: fc.constant("readExactly" as const), n: fc.nat(24) }),
  fc.record({ op: fc.constant("readUntil" as const), separator }),
  fc.constant({ op: "readLine" as const }),
  fc.constant({ op: "atEof" as const })
)
const scenario: fc.Arbitrary<Scenario> = fc.record({
  data: fc.array(byte, { maxLength: 120 }).map((bytes) => Uint8Array.from(bytes)),
  cuts: fc.array(fc.integer({ min: 1, max: 40 }), { maxLength: 20 }),
  split: fc.option(fc.integer({ min: 1, max: 7 }), { nil: undefined }),
  limit: fc.integer({ min: 1, max: 16 }),
  operations: fc.array(operation, { maxLength: 25 })
})

/** The connection's read limit in the property test: the most one pulled batch holds. */
const batchLimit = 32

const indexOf = (bytes: Uint8Array, separator: Uint8Array): number => {
  outer: for (let i = 0; i + separator.length <= bytes.length; i++) {
    for (let k = 0; k < separator.length; k++) if (bytes[i + k] !== separator[k]) continue outer
    return i
  }
  return -1
}

const same = (actual: Uint8Array, expected: Uint8Array, what: string) =>
  assert.deepStrictEqual(Array.from(actual), Array.from(expected), what)

const runScenario = (input: Scenario) =>
  Effect.gen(function*() {
    const network = yield* Effect.serviceOption(FakeNetwork)
    if (Option.isSome(network)) yield* network.value.splitWrites(input.split)
    const { accepted, client } = yield* pair({ readLimit: batchLimit })
    yield* Effect.forkScoped(Effect.gen(function*() {
      let at = 0
      for (const cut of input.cuts) {
        if (at >= input.data.length) break
        yield* client.write(input.data.subarray(at, at + cut))
        at += cut
      }
      if (at < input.data.length) yield* client.write(input.data.subarray(at))
      yield* client.end
    }))
    const { limit } = input
    const reader = yield* Reader.make(accepted, { limit })
    // the model: what asyncio's reader has yet to return
    let rest = input.data
    let longest = 1
    for (const operation of input.operations) {
      const where = `${operation.op} at ${input.data.length - rest.length}`
      switch (operation.op) {
        case "read": {
          const got = yield* reader.read(operation.n)
          const most = Math.min(operation.n, rest.length)
          assert.isTrue(got.length <= most && (got.length > 0 || most === 0), `${where}: ${got.length} bytes`)
          same(got, rest.subarray(0, got.length), where)
          rest = rest.subarray(got.length)
          break
        }
        case "readExactly": {
          const exit = yield* Effect.exit(reader.readExactly(operation.n))
          if (operation.n > limit) {
            const error = Exit.isFailure(exit) ? Option.getOrUndefined(Cause.findErrorOption(exit.cause)) : undefined
            assert.strictEqual(error?._tag, "LimitOverrunError", where)
          } else if (operation.n <= rest.length) {
            assert.isTrue(Exit.isSuccess(exit), where)
            if (Exit.isSuccess(exit)) same(exit.value, rest.subarray(0, operation.n), where)
            rest = rest.subarray(operation.n)
          } else {
            const error = Exit.isFailure(exit) ? Option.getOrUndefined(Cause.findErrorOption(exit.cause)) : undefined
            assert.strictEqual(error?._tag, "IncompleteReadError", where)
            if (error?._tag === "IncompleteReadError") same(error.partial, rest, where)
            rest = rest.subarray(rest.length)
          }
          break
        }
        case "readUntil":
        case "readLine": {
          const sep = operation.op === "readLine" ? Uint8Array.of(0x0a) : operation.separator
          longest = Math.max(longest, sep.length)
          const exit = yield* Effect.exit(operation.op === "readLine" ? reader.readLine : reader.readUntil(sep))
          const at = indexOf(rest, sep)
          const error = Exit.isFailure(exit) ? Option.getOrUndefined(Cause.findErrorOption(exit.cause)) : undefined
          if (at >= 0 && at <= limit) {
            assert.isTrue(Exit.isSuccess(exit), `${where}: ${error?._tag}`)
            if (Exit.isSuccess(exit)) same(exit.value, rest.subarray(0, at + sep.length), where)
            rest = rest.subarray(at + sep.length)
          } else if (at >= 0 || rest.length + 1 - sep.length > limit) {
            assert.strictEqual(error?._tag, "LimitOverrunError", where)
            if (error?._tag !== "LimitOverrunError") break
            const firstAt = at >= 0 ? at : rest.length
            if (operation.op === "readUntil") {
              // nothing taken; no separator starts before `noSeparatorBefore`, which is past the limit
              assert.strictEqual(error.consumed, 0, where)
              assert.isTrue(error.noSeparatorBefore! > limit && error.noSeparatorBefore! <= firstAt, where)
            } else {
              // the line through its newline, or more than the limit of it with no newline
              const through = at >= 0 && error.consumed === at + 1
              assert.isTrue(through || (error.consumed > limit && error.consumed <= firstAt), where)
              rest = rest.subarray(error.consumed)
            }
          } else if (operation.op === "readLine") {
            assert.isTrue(Exit.isSuccess(exit), where)
            if (Exit.isSuccess(exit)) same(exit.value, rest, where)
            rest = rest.subarray(rest.length)
          } else {
            assert.strictEqual(error?._tag, "IncompleteReadError", where)
            if (error?._tag === "IncompleteReadError") same(error.partial, rest, where)
            rest = rest.subarray(rest.length)
          }
          break
        }
        case "atEof": {
          const atEof = yield* reader.atEof
          if (rest.length > 0) assert.isFalse(atEof, where)
          break
        }
      }
      const buffered = yield* reader.buffered
      assert.isTrue(buffered <= limit + longest - 1 + batchLimit, `${where}: ${buffered} bytes buffered`)
    }
    // the handover: the rest of the bytes, exactly
    same(concat(yield* Stream.runCollect(reader.stream)), rest, "stream")
  })
