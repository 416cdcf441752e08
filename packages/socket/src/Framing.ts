/**
 * Framing codecs as Stream transforms, both directions, bounded: lines
 * (Tokio's `LinesCodec`) and length-prefixed frames (Tokio's
 * `LengthDelimitedCodec`).
 *
 * ```ts
 * import { Stream } from "effect"
 * import { Framing } from "@effect-tcp/socket"
 * import type { Connection } from "@effect-tcp/socket"
 *
 * // A line echo that no peer can make buffer more than 1 KiB of one line.
 * const echoLines = (connection: Connection.Connection) =>
 *   connection.stream.pipe(
 *     Framing.decodeLines({ maxLength: 1024 }),
 *     Framing.encodeLines,
 *     Stream.run(connection.sink)
 *   )
 * ```
 *
 * - Decoders work on whole batches of chunks, with no Effect per frame. A
 *   frame that lies inside one chunk is a subarray of it (no copy: a
 *   connection's chunks belong to their consumer); one across chunks is copied
 *   once.
 * - Nothing grows past its limit: a line or frame that would is a
 *   `LimitOverrunError` as soon as that is known, before more of it is held.
 * - The frames before an error are delivered, then the stream fails, the same
 *   whatever way the bytes were cut into chunks.
 * - Options out of range (`lengthBytes: 3`, `maxLength: 0`) are defects: the
 *   codec's constructor throws a `RangeError` that says which option and why.
 *
 * @since 0.2.0
 */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import type * as Stream from "effect/Stream"
import { checkSend, frameDecoder, frameEncoder, writeLength } from "./internal/framing/lengthPrefixed.ts"
import type { Format } from "./internal/framing/lengthPrefixed.ts"
import { lineDecoder, lineEncoder } from "./internal/framing/lines.ts"
import { transform } from "./internal/framing/transform.ts"
import type { IncompleteReadError, LimitOverrunError } from "./StreamError.ts"

/**
 * Options of `decodeLines`.
 *
 * @since 0.2.0
 * @category options
 */
export interface LinesOptions {
  /** The most bytes a line may have, without its `\n` or `\r\n`; a positive integer, 64 KiB by default. */
  readonly maxLength?: number | undefined
}

/**
 * Options of the length-prefixed codecs, as Tokio's `LengthDelimitedCodec`.
 *
 * @since 0.2.0
 * @category options
 */
export interface LengthPrefixedOptions {
  /** Bytes of the length header: 1, 2 or 4 (the default). */
  readonly lengthBytes?: 1 | 2 | 4 | undefined
  /** Byte order of the length header: `"big"` (network order, the default) or `"little"`. */
  readonly endian?: "big" | "little" | undefined
  /** The longest body, in bytes, without the header: a positive integer, 8 MiB by default. */
  readonly maxFrameLength?: number | undefined
}

/**
 * A line given to `encodeLines` has a `\n` of its own. Sent as it is, it
 * would reach the peer as two lines: a peer's text echoed or relayed line by
 * line could then inject lines of its choosing into the protocol. `index` is
 * where the `\n` is, `length` the line's length (in UTF-16 code units).
 *
 * @since 0.2.0
 * @category errors
 */
export class NewlineInLineError extends Schema.TaggedError<NewlineInLineError>()("NewlineInLineError", {
  index: Schema.Number,
  length: Schema.Number
}) {
  override get message() {
    return `a line to send has a newline at index ${this.index} of its ${this.length} characters: `
      + `it would reach the peer as more than one line`
  }
}

const KiB = 1024

const isPositiveInteger = (n: unknown): n is number => Number.isSafeInteger(n) && (n as number) > 0

const invalid = (codec: string, option: string, expected: string, value: unknown): RangeError =>
  new RangeError(`Framing.${codec}: ${option} must be ${expected}, got ${String(value)}`)

const maxLineLength = (options: LinesOptions | undefined): number => {
  const maxLength = options?.maxLength ?? 64 * KiB
  if (!isPositiveInteger(maxLength)) {
    throw invalid("decodeLines", "maxLength", "a positive integer (bytes of a line)", maxLength)
  }
  return maxLength
}

const formatOf = (codec: string, options: LengthPrefixedOptions | undefined): Format => {
  const lengthBytes = options?.lengthBytes ?? 4
  const endian = options?.endian ?? "big"
  const maxFrameLength = options?.maxFrameLength ?? 8 * KiB * KiB
  if (lengthBytes !== 1 && lengthBytes !== 2 && lengthBytes !== 4) {
    throw invalid(codec, "lengthBytes", "1, 2 or 4", lengthBytes)
  }
  if (endian !== "big" && endian !== "little") throw invalid(codec, "endian", `"big" or "little"`, endian)
  if (!isPositiveInteger(maxFrameLength)) {
    throw invalid(codec, "maxFrameLength", "a positive integer (bytes of a body)", maxFrameLength)
  }
  return { lengthBytes, littleEndian: endian === "little", maxFrameLength }
}

/**
 * Splits bytes into lines: `\n` ends a line and a `\r` before it is dropped
 * (so `\r\n` and `\n` both end one), each line decoded as UTF-8 (a character
 * cut between two chunks is joined; invalid bytes become U+FFFD), and a last
 * line without a newline is emitted when the stream ends (as Tokio's
 * `LinesCodec::decode_eof`).
 *
 * A line longer than `maxLength` bytes fails the stream with
 * `LimitOverrunError` as soon as its held part passes the limit, so at most
 * `maxLength` bytes and one chunk are ever held. Its `consumed` counts the
 * line's bytes up to the one that proved it too long. Throws a `RangeError`
 * if `maxLength` is not a positive integer.
 *
 * @since 0.2.0
 * @category lines
 */
export const decodeLines = (options?: LinesOptions): <E, R>(
  self: Stream.Stream<Uint8Array, E, R>
) => Stream.Stream<string, E | LimitOverrunError, R> => {
  const make = lineDecoder(maxLineLength(options))
  return (self) => transform(self, make)
}

/**
 * Encodes each line as UTF-8 followed by `\n` (one chunk per batch of lines).
 *
 * A line with a `\n` of its own fails the stream with `NewlineInLineError`,
 * after the lines before it: sent as it is, the peer would read it as more
 * than one line. A line ending in `\r` is sent, but `decodeLines` reads it
 * back without that `\r`.
 *
 * @since 0.2.0
 * @category lines
 */
export const encodeLines = <E, R>(
  self: Stream.Stream<string, E, R>
): Stream.Stream<Uint8Array, E | NewlineInLineError, R> =>
  transform(self, lineEncoder((line, index) => new NewlineInLineError({ index, length: line.length })))

/**
 * Splits bytes into length-prefixed frames, as Tokio's
 * `LengthDelimitedCodec`: a header of `lengthBytes` holding the body's length,
 * then the body. A length of 0 is an empty frame.
 *
 * - A declared length past `maxFrameLength` fails with `LimitOverrunError`
 *   (`consumed`: the header's bytes) before any of the body is held.
 * - The peer's FIN inside a header or a body fails with `IncompleteReadError`:
 *   `partial` holds the bytes of the header or of the body that came,
 *   `expected` the header's size or the declared length.
 * - A frame inside one chunk is a subarray of it; one across chunks is copied
 *   once into a buffer of its length.
 *
 * Throws a `RangeError` for options out of range.
 *
 * @since 0.2.0
 * @category length-prefixed
 */
export const decodeLengthPrefixed = (options?: LengthPrefixedOptions): <E, R>(
  self: Stream.Stream<Uint8Array, E, R>
) => Stream.Stream<Uint8Array, E | LimitOverrunError | IncompleteReadError, R> => {
  const make = frameDecoder(formatOf("decodeLengthPrefixed", options))
  return (self) => transform(self, make)
}

/**
 * Prefixes each frame with its length header. Short frames of a batch go out
 * in one chunk with their headers; a long body (16 KiB or more) is not copied.
 *
 * A frame longer than `maxFrameLength`, or than a header of `lengthBytes` can
 * declare (255 bytes for 1, 65535 for 2), fails the stream with
 * `LimitOverrunError` (`consumed` 0) after the frames before it; a length never
 * wraps around. Throws a `RangeError` for options out of range.
 *
 * @since 0.2.0
 * @category length-prefixed
 */
export const encodeLengthPrefixed = (options?: LengthPrefixedOptions): <E, R>(
  self: Stream.Stream<Uint8Array, E, R>
) => Stream.Stream<Uint8Array, E | LimitOverrunError, R> => {
  const make = frameEncoder(formatOf("encodeLengthPrefixed", options))
  return (self) => transform(self, make)
}

/**
 * One frame's header and body, for `connection.writeAll`, or the
 * `LimitOverrunError` `encodeLengthPrefixed` would fail with. The body is not
 * copied.
 *
 * ```ts
 * import { Effect } from "effect"
 * import { Framing } from "@effect-tcp/socket"
 * import type { Connection } from "@effect-tcp/socket"
 *
 * const send = (connection: Connection.Connection, body: Uint8Array) =>
 *   Effect.flatMap(Framing.encodeFrame(body), connection.writeAll)
 * ```
 *
 * Throws a `RangeError` for options out of range.
 *
 * @since 0.2.0
 * @category length-prefixed
 */
export const encodeFrame = (
  body: Uint8Array,
  options?: LengthPrefixedOptions
): Effect.Effect<readonly [header: Uint8Array, body: Uint8Array], LimitOverrunError> => {
  const format = formatOf("encodeFrame", options)
  const error = checkSend(format, body.length)
  if (error !== undefined) return Effect.fail(error)
  const header = new Uint8Array(format.lengthBytes)
  writeLength(format, body.length, header, 0)
  return Effect.succeed([header, body] as const)
}
