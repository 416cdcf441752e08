/**
 * The echo differed from what was sent: exit code 7.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

const preview = (bytes: Uint8Array): string => {
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.length, 32)).toString("latin1")
  return JSON.stringify(text) + (bytes.length > 32 ? "..." : "")
}

/**
 * An echo that is not byte-for-byte what was sent: a differing byte, more
 * bytes than were sent, or a connection closed before the whole echo came back.
 *
 * @since 0.1.0
 * @category errors
 */
export class EchoMismatchError extends Schema.TaggedError<EchoMismatchError>()("EchoMismatchError", {
  /** Where the echo went wrong, counting from the first byte sent on the connection. */
  offset: Schema.Number,
  /** What was expected from `offset` on (a preview), or `""` when nothing more was expected. */
  expected: Schema.String,
  /** What came back from `offset` on (a preview), or `""` when the connection closed. */
  received: Schema.String,
  /** The peer, `host:port`. */
  peer: Schema.String
}) {
  override get message(): string {
    if (this.received === "") {
      return `the echo ended after ${this.offset} bytes, expected ${this.expected} more (${this.peer})`
    }
    if (this.expected === "") {
      return `the echo has more bytes than were sent: ${this.received} at byte ${this.offset} (${this.peer})`
    }
    return `the echo differs at byte ${this.offset}: sent ${this.expected}, received ${this.received} (${this.peer})`
  }
}

/**
 * The error for a chunk whose `index`th byte differs from `expected`'s.
 *
 * @since 0.1.0
 * @category constructors
 */
export const differs = (
  offset: number,
  expected: Uint8Array,
  received: Uint8Array,
  peer: string
): EchoMismatchError =>
  new EchoMismatchError({ offset, expected: preview(expected), received: preview(received), peer })

/**
 * The error for an echo that ended early, `missing` bytes short.
 *
 * @since 0.1.0
 * @category constructors
 */
export const ended = (offset: number, missing: number, peer: string): EchoMismatchError =>
  new EchoMismatchError({ offset, expected: `${missing} bytes`, received: "", peer })

/**
 * The error for bytes that came back although nothing was in flight.
 *
 * @since 0.1.0
 * @category constructors
 */
export const extra = (offset: number, received: Uint8Array, peer: string): EchoMismatchError =>
  new EchoMismatchError({ offset, expected: "", received: preview(received), peer })

/**
 * Whether the error is an echo that ended early (`ended`): the connection
 * closed before everything sent came back, rather than a differing byte.
 *
 * @since 0.2.0
 * @category guards
 */
export const isEnded = (error: EchoMismatchError): boolean => error.received === ""
