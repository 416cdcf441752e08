// The framing codecs on plain streams: lines and length-prefixed frames, both
// directions, their limits and errors, and properties over any cutting of the
// bytes into chunks and batches (fast-check).
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Stream } from "effect"
import fc from "fast-check"
import * as Framing from "../src/Framing.ts"
import { IncompleteReadError, LimitOverrunError } from "../src/StreamError.ts"
import { concat, encode } from "./util.ts"

/** Runs a pure stream to its end, synchronously. */
const run = <A, E>(stream: Stream.Stream<A, E>): Exit.Exit<ReadonlyArray<A>, E> =>
  Effect.runSyncExit(Stream.runCollect(stream))

const values = <A, E>(stream: Stream.Stream<A, E>): ReadonlyArray<A> => {
  const exit = run(stream)
  if (Exit.isFailure(exit)) assert.fail(`expected success, got ${exit.cause}`)
  return exit.value
}

/** What a stream emitted before it failed, and its error. */
const failure = <A, E>(stream: Stream.Stream<A, E>): { readonly emitted: ReadonlyArray<A>; readonly error: E } => {
  const emitted: Array<A> = []
  const exit = Effect.runSyncExit(Stream.runForEach(stream, (a) => Effect.sync(() => emitted.push(a))))
  if (Exit.isSuccess(exit)) return assert.fail(`expected a failure, got ${JSON.stringify(emitted)}`)
  const error = exit.cause.reasons.find((reason) => reason._tag === "Fail")
  if (error === undefined) return assert.fail(`expected a typed failure, got ${exit.cause}`)
  return { emitted, error: error.error }
}

/** The bytes as one batch of chunks cut at `cuts`, or as batches of one chunk each. */
const cut = (bytes: Uint8Array, cuts: ReadonlyArray<number>, oneBatch = false): Stream.Stream<Uint8Array> => {
  const points = [...new Set(cuts.map((n) => n % (bytes.length + 1)))].toSorted((a, b) => a - b)
  const chunks: Array<Uint8Array> = []
  let from = 0
  for (const point of [...points, bytes.length]) {
    if (point > from) chunks.push(bytes.slice(from, point))
    from = point
  }
  return oneBatch ? Stream.fromArray(chunks) : Stream.fromArrays(...chunks.map((chunk) => [chunk]))
}

/** `count` batches of one chunk each. */
const oneByOne = (count: number, chunk: Uint8Array) =>
  Stream.fromArrays(...Array.from({ length: count }, () => [chunk.slice()]))

const lines = (text: string | ReadonlyArray<Uint8Array>, options?: Framing.LinesOptions) =>
  (typeof text === "string" ? Stream.make(encode(text)) : Stream.fromArrays(...text.map((c) => [c]))).pipe(
    Framing.decodeLines(options)
  )

describe("decodeLines", () => {
  it("splits on \\n and \\r\\n, keeps a lone \\r and empty lines, emits a last line without newline", () => {
    assert.deepStrictEqual(values(lines("a\nb\r\n\nc\rd\ne")), ["a", "b", "", "c\rd", "e"])
    assert.deepStrictEqual(values(lines("a\n")), ["a"])
    assert.deepStrictEqual(values(lines("")), [])
    assert.deepStrictEqual(values(lines("last\r")), ["last"])
  })

  it("decodes a multi-byte character cut between chunks, at every cut", () => {
    const bytes = encode("é€😀\nx😀\n")
    for (let at = 0; at <= bytes.length; at++) {
      assert.deepStrictEqual(
        values(lines([bytes.subarray(0, at), bytes.subarray(at)])),
        ["é€😀", "x😀"],
        `cut at ${at}`
      )
    }
  })

  it("keeps a U+FEFF at the start of a line", () => {
    assert.deepStrictEqual(values(lines("\uFEFFa\n\uFEFFb")), ["\uFEFFa", "\uFEFFb"])
  })

  it("accepts a line of maxLength bytes, with \\n or \\r\\n, and at the end", () => {
    assert.deepStrictEqual(values(lines("abcd\nabcd\r\nabcd\r", { maxLength: 4 })), ["abcd", "abcd", "abcd"])
    assert.deepStrictEqual(values(lines("éé\n", { maxLength: 4 })), ["éé"])
  })

  it("fails a longer line with LimitOverrunError, after the lines before it", () => {
    const { emitted, error } = failure(lines("ok\nabcde\nnever\n", { maxLength: 4 }))
    assert.deepStrictEqual(emitted, ["ok"])
    assert.instanceOf(error, LimitOverrunError)
    assert.deepInclude(error, { limit: 4, consumed: 5, what: "a line" })
    assert.strictEqual(error.message, "a line: over the limit of 4 bytes (5 bytes consumed)")
    // a \r at the limit that no \n follows: the byte after it proves the line too long
    assert.deepInclude(failure(lines("abcd\rx\n", { maxLength: 4 })).error, { consumed: 6 })
    assert.deepInclude(failure(lines("abcd\r\r\n", { maxLength: 4 })).error, { consumed: 6 })
  })

  it("fails at once on a line that never ends, holding no more than the limit and one chunk", () => {
    let pulled = 0
    const endless = oneByOne(1000, encode("x".repeat(1000))).pipe(Stream.map((chunk) => (pulled++, chunk)))
    const { error } = failure(endless.pipe(Framing.decodeLines({ maxLength: 10_000 })))
    assert.deepInclude(error, { limit: 10_000, consumed: 10_001 })
    assert.strictEqual(pulled, 11)
  })

  it("defaults maxLength to 64 KiB", () => {
    assert.deepStrictEqual(values(lines(`${"x".repeat(65536)}\n`)).map((line) => line.length), [65536])
    assert.deepInclude(failure(lines(`${"x".repeat(65537)}\n`)).error, { limit: 65536 })
  })

  it("rejects a maxLength that is not a positive integer, at construction", () => {
    assert.throws(() => Framing.decodeLines({ maxLength: 0 }), RangeError, "maxLength must be a positive integer")
    assert.throws(() => Framing.decodeLines({ maxLength: 1.5 }), RangeError, "got 1.5")
  })
})

describe("encodeLines", () => {
  it("writes each line and a \\n", () => {
    const bytes = concat(values(Stream.make("a", "", "é€").pipe(Framing.encodeLines)))
    assert.deepStrictEqual(bytes, encode("a\n\né€\n"))
  })

  it("fails on a line with a newline of its own, after the lines before it", () => {
    const { emitted, error } = failure(Stream.make("ok", "in\njected", "never").pipe(Framing.encodeLines))
    assert.deepStrictEqual(concat(emitted), encode("ok\n"))
    assert.instanceOf(error, Framing.NewlineInLineError)
    assert.deepInclude(error, { index: 2, length: 9 })
    assert.match(error.message, /newline at index 2 of its 9 characters: it would reach the peer as more than one/)
  })
})

const frame = (length: number, fill = 7) => new Uint8Array(length).fill(fill)

const bad = (options: unknown) => () => Framing.decodeLengthPrefixed(options as Framing.LengthPrefixedOptions)

const encoded = (
  options: Framing.LengthPrefixedOptions
) => [...concat(values(Stream.make(new Uint8Array([1, 2]), frame(0)).pipe(Framing.encodeLengthPrefixed(options))))]

describe("decodeLengthPrefixed", () => {
  it("reads each header size and byte order; a length of 0 is an empty frame", () => {
    const cases: ReadonlyArray<readonly [Framing.LengthPrefixedOptions, Array<number>]> = [
      [{}, [0, 0, 0, 3, 1, 2, 3, 0, 0, 0, 0]],
      [{ lengthBytes: 4, endian: "little" }, [3, 0, 0, 0, 1, 2, 3, 0, 0, 0, 0]],
      [{ lengthBytes: 2 }, [0, 3, 1, 2, 3, 0, 0]],
      [{ lengthBytes: 2, endian: "little" }, [3, 0, 1, 2, 3, 0, 0]],
      [{ lengthBytes: 1 }, [3, 1, 2, 3, 0]]
    ]
    for (const [options, bytes] of cases) {
      const frames = values(Stream.make(new Uint8Array(bytes)).pipe(Framing.decodeLengthPrefixed(options)))
      assert.deepStrictEqual(frames.map((f) => [...f]), [[1, 2, 3], []], JSON.stringify(options))
    }
  })

  it("reads lengths up to 2^32 - 1 without sign trouble", () => {
    const header = new Uint8Array([0xff, 0xff, 0xff, 0xff])
    const { error } = failure(Stream.make(header).pipe(Framing.decodeLengthPrefixed()))
    assert.deepInclude(error, { what: "a frame of 4294967295 bytes", consumed: 4, limit: 8 * 1024 * 1024 })
  })

  it("returns a frame inside one chunk as a subarray of it, and copies one across chunks", () => {
    const chunk = new Uint8Array([0, 2, 9, 9, 0, 3, 8])
    const [inside, across] = values(
      Stream.make(chunk, new Uint8Array([8, 8])).pipe(
        Framing.decodeLengthPrefixed({ lengthBytes: 2 })
      )
    )
    assert.strictEqual(inside.buffer, chunk.buffer)
    assert.deepStrictEqual([...across], [8, 8, 8])
    assert.notStrictEqual(across.buffer, chunk.buffer)
  })

  it("fails a declared length past the maximum at once, before any of the body", () => {
    let pulled = 0
    const body = oneByOne(1000, frame(100)).pipe(Stream.map((chunk) => (pulled++, chunk)))
    const stream = Stream.concat(Stream.make(new Uint8Array([0, 0, 1, 1])), body)
    const { emitted, error } = failure(stream.pipe(Framing.decodeLengthPrefixed({ maxFrameLength: 256 })))
    assert.deepStrictEqual(emitted, [])
    assert.instanceOf(error, LimitOverrunError)
    assert.deepInclude(error, { limit: 256, consumed: 4, what: "a frame of 257 bytes" })
    assert.strictEqual(pulled, 0)
  })

  it("fails on the FIN inside a header or a body with IncompleteReadError", () => {
    const inHeader = failure(Stream.make(new Uint8Array([0, 0, 0, 1, 5, 0, 0])).pipe(Framing.decodeLengthPrefixed()))
    assert.strictEqual(inHeader.emitted.length, 1)
    assert.instanceOf(inHeader.error, IncompleteReadError)
    assert.deepStrictEqual([...inHeader.error.partial], [0, 0])
    assert.strictEqual(inHeader.error.expected, 4)
    const inBody = failure(
      Stream.make(new Uint8Array([0, 5, 1]), new Uint8Array([2])).pipe(
        Framing.decodeLengthPrefixed({ lengthBytes: 2 })
      )
    )
    assert.instanceOf(inBody.error, IncompleteReadError)
    assert.deepStrictEqual([...inBody.error.partial], [1, 2])
    assert.strictEqual(inBody.error.expected, 5)
    assert.match(inBody.error.message, /^the peer closed the connection after 2 of the 5 bytes of a frame/)
  })

  it("rejects options out of range, at construction", () => {
    assert.throws(
      bad({ lengthBytes: 3 }),
      RangeError,
      "Framing.decodeLengthPrefixed: lengthBytes must be 1, 2 or 4, got 3"
    )
    assert.throws(bad({ endian: "middle" }), RangeError, "endian")
    assert.throws(bad({ maxFrameLength: 0 }), RangeError, "maxFrameLength must be a positive integer")
    assert.throws(() => Framing.encodeLengthPrefixed({ lengthBytes: 8 as 4 }), RangeError, "encodeLengthPrefixed")
  })
})

describe("encodeLengthPrefixed and encodeFrame", () => {
  it("writes the header in the byte order asked for", () => {
    assert.deepStrictEqual(encoded({}), [0, 0, 0, 2, 1, 2, 0, 0, 0, 0])
    assert.deepStrictEqual(encoded({ endian: "little" }), [2, 0, 0, 0, 1, 2, 0, 0, 0, 0])
    assert.deepStrictEqual(encoded({ lengthBytes: 2 }), [0, 2, 1, 2, 0, 0])
    assert.deepStrictEqual(encoded({ lengthBytes: 1 }), [2, 1, 2, 0])
  })

  it("sends a long body as it is, without copying it", () => {
    const body = frame(64 * 1024)
    const chunks = values(Stream.make(frame(3), body).pipe(Framing.encodeLengthPrefixed()))
    assert.include(chunks, body)
    assert.deepStrictEqual([...concat(chunks).subarray(0, 11)], [0, 0, 0, 3, 7, 7, 7, 0, 1, 0, 0])
  })

  it("fails a frame past the maximum, or past what the header can say, after the frames before it", () => {
    const tooLong = failure(Stream.make(frame(1), frame(11)).pipe(Framing.encodeLengthPrefixed({ maxFrameLength: 10 })))
    assert.deepStrictEqual([...concat(tooLong.emitted)], [0, 0, 0, 1, 7])
    assert.deepInclude(tooLong.error, { limit: 10, consumed: 0, what: "a frame to send of 11 bytes" })
    const wraps = failure(Stream.make(frame(256)).pipe(Framing.encodeLengthPrefixed({ lengthBytes: 1 })))
    assert.deepInclude(wraps.error, { limit: 255 })
    assert.deepInclude(
      failure(Stream.make(frame(65536)).pipe(Framing.encodeLengthPrefixed({ lengthBytes: 2 }))).error,
      {
        limit: 65535
      }
    )
  })

  it("encodeFrame returns the header and the body, or the error", () => {
    const body = frame(300)
    const framed = Effect.runSync(Framing.encodeFrame(body, { lengthBytes: 2 }))
    assert.deepStrictEqual([...framed[0]], [1, 44])
    assert.strictEqual(framed[1], body)
    const error = Effect.runSync(Effect.flip(Framing.encodeFrame(body, { lengthBytes: 1 })))
    assert.instanceOf(error, LimitOverrunError)
    assert.deepInclude(error, { limit: 255, consumed: 0 })
  })
})

// Properties: any cutting of the same bytes gives the same frames or the same error.

/** The exit as comparable data: the values, or the error's tag and fields. */
const outcome = <A, E>(stream: Stream.Stream<A, E>) => {
  const emitted: Array<unknown> = []
  const exit = Effect.runSyncExit(
    Stream.runForEach(stream, (a) => Effect.sync(() => emitted.push(a instanceof Uint8Array ? [...a] : a)))
  )
  const reason = Exit.isFailure(exit) ? exit.cause.reasons[0] : undefined
  const error = reason?._tag === "Fail" ? { ...(reason.error as object) } : reason
  if (error !== undefined && "partial" in error) error.partial = [...(error.partial as Uint8Array)]
  return { emitted, error }
}

const text = fc.array(fc.constantFrom("a", "b", "é", "€", "😀", "\r", "\n", "\r\n"), { maxLength: 60 })
  .map((parts) => parts.join(""))
const cuts = fc.array(fc.nat(), { maxLength: 20 })

describe("properties", () => {
  it("decodeLines: any cutting gives the same lines or error; no line is over the limit", () => {
    fc.assert(fc.property(text, cuts, fc.integer({ min: 1, max: 12 }), fc.boolean(), (input, at, maxLength, batch) => {
      const bytes = encode(input)
      const whole = outcome(Stream.make(bytes).pipe(Framing.decodeLines({ maxLength })))
      assert.deepStrictEqual(outcome(cut(bytes, at, batch).pipe(Framing.decodeLines({ maxLength }))), whole)
      for (const line of whole.emitted) assert.isAtMost(encode(line as string).length, maxLength)
      // the model: split on \n, a trailing \r dropped, the first line over the limit fails
      const model = input.split("\n").map((line) => line.replace(/\r$/, ""))
      if (input.endsWith("\n") || input === "") model.pop()
      const over = model.findIndex((line) => encode(line).length > maxLength)
      assert.deepStrictEqual(whole.emitted, over === -1 ? model : model.slice(0, over))
      assert.strictEqual(whole.error === undefined, over === -1)
    }))
  })

  const formats = fc.record({
    lengthBytes: fc.constantFrom(1 as const, 2 as const, 4 as const),
    endian: fc.constantFrom("big" as const, "little" as const),
    maxFrameLength: fc.integer({ min: 1, max: 300 })
  })

  it("decodeLengthPrefixed: any bytes, any cutting: the same frames or error; no frame over the limit", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), cuts, formats, fc.boolean(), (bytes, at, options, batch) => {
        const whole = outcome(Stream.make(bytes).pipe(Framing.decodeLengthPrefixed(options)))
        assert.deepStrictEqual(outcome(cut(bytes, at, batch).pipe(Framing.decodeLengthPrefixed(options))), whole)
        for (const f of whole.emitted) assert.isAtMost((f as Array<number>).length, options.maxFrameLength)
      })
    )
  })

  it("decode(encode(frames)) is frames, however the encoded bytes are cut", () => {
    const frames = fc.array(fc.uint8Array({ maxLength: 255 }), { maxLength: 10 })
    fc.assert(fc.property(frames, cuts, formats, fc.boolean(), (input, at, options, batch) => {
      const bounded = { ...options, maxFrameLength: 255 }
      const encoded = concat(values(Stream.fromArray(input).pipe(Framing.encodeLengthPrefixed(bounded))))
      const decoded = values(cut(encoded, at, batch).pipe(Framing.decodeLengthPrefixed(bounded)))
      assert.deepStrictEqual(decoded.map((f) => [...f]), input.map((f) => [...f]))
    }))
  })

  it("decodeLines(encodeLines(lines)) is lines, for lines without \\n or a trailing \\r", () => {
    const line = text.map((s) => s.replaceAll("\n", "").replace(/\r+$/, ""))
    fc.assert(fc.property(fc.array(line, { maxLength: 10 }), cuts, (input, at) => {
      const encoded = concat(values(Stream.fromArray(input).pipe(Framing.encodeLines)))
      assert.deepStrictEqual(values(cut(encoded, at).pipe(Framing.decodeLines())), input)
    }))
  })
})
