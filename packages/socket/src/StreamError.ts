/**
 * What goes wrong reading a protocol off a connection, beside the OS's errors
 * (`OSError`): the two of asyncio's streams, as typed values.
 *
 * - `IncompleteReadError`: the peer's FIN came before what was asked for
 *   (`Reader.readExactly`, `Reader.readUntil`, a frame cut short). `partial`
 *   holds the bytes that did come; they are consumed.
 * - `LimitOverrunError`: what was asked for would take more than the limit
 *   (a line, a separator that never comes, a frame whose declared length is
 *   past the maximum). Nothing was buffered past the limit; `consumed` says
 *   how many bytes the failed read took off the connection.
 *
 * @since 0.2.0
 */
import * as Predicate from "effect/Predicate"
import * as Schema from "effect/Schema"

/**
 * The brand both errors carry, so the guard recognises our classes and not
 * look-alikes that share a `_tag`.
 *
 * @since 0.2.0
 * @category type ids
 */
export const TypeId: TypeId = "~@effect-tcp/socket/StreamError"

/**
 * The type of `TypeId`.
 *
 * @since 0.2.0
 * @category type ids
 */
export type TypeId = "~@effect-tcp/socket/StreamError"

/** `1 byte`, `2 bytes`. */
const bytes = (n: number): string => n === 1 ? "1 byte" : `${n} bytes`

/**
 * The peer's FIN came before what was asked for (asyncio's `IncompleteReadError`).
 *
 * `partial` holds the bytes that came; `expected` is the count asked for, or
 * `undefined` where a separator was (asyncio's `None`).
 *
 * @since 0.2.0
 * @category errors
 */
export class IncompleteReadError extends Schema.TaggedError<IncompleteReadError>()("IncompleteReadError", {
  partial: Schema.Uint8Array,
  expected: Schema.UndefinedOr(Schema.Number),
  /** What was being read, for the message: `"a frame"`, `"a line"`. */
  what: Schema.optional(Schema.String)
}) {
  /** The brand the guard checks. */
  declare readonly [TypeId]: TypeId
  override get message() {
    const what = this.what === undefined ? "" : ` of ${this.what}`
    return this.expected === undefined
      ? `the peer closed the connection after ${bytes(this.partial.length)}${what}, before the separator`
      : `the peer closed the connection after ${this.partial.length} of the ${bytes(this.expected)}${what} expected`
  }
}

/**
 * What was asked for would take more than the limit (asyncio's `LimitOverrunError`).
 *
 * `consumed` is how many bytes the failed read took off the connection (0
 * where they are still there to read); `limit` is the limit that was hit.
 *
 * @since 0.2.0
 * @category errors
 */
export class LimitOverrunError extends Schema.TaggedError<LimitOverrunError>()("LimitOverrunError", {
  consumed: Schema.Number,
  limit: Schema.Number,
  /** What ran over, for the message: `"no separator in 65537 bytes"`, `"a frame of 70000 bytes"`. */
  what: Schema.String,
  /**
   * For a separator that was not found within the limit, or found past it: how many
   * bytes at the head of what is still buffered hold no start of the separator
   * (asyncio's `consumed`). Reading them off (`readExactly`) skips to where the
   * separator may start.
   */
  noSeparatorBefore: Schema.optional(Schema.Number)
}) {
  /** The brand the guard checks. */
  declare readonly [TypeId]: TypeId
  override get message() {
    const consumed = this.consumed === 0
      ? "nothing consumed: the bytes are still there to read"
      : `${bytes(this.consumed)} consumed`
    return `${this.what}: over the limit of ${bytes(this.limit)} (${consumed})`
  }
}

for (const Class of [IncompleteReadError, LimitOverrunError]) {
  Object.defineProperty(Class.prototype, TypeId, { value: TypeId })
}

/**
 * Either error.
 *
 * @since 0.2.0
 * @category families
 */
export type StreamError = IncompleteReadError | LimitOverrunError

/**
 * Whether a value is one of this module's errors (by its brand, not its `_tag`).
 *
 * @since 0.2.0
 * @category guards
 */
export const isStreamError = (u: unknown): u is StreamError => Predicate.hasProperty(u, TypeId)
