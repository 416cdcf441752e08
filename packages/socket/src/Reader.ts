/**
 * asyncio's `StreamReader` over a connection: `read`, `readExactly`,
 * `readUntil`, `readLine`, with a `limit` on what a separator search may
 * buffer, and a handover of the rest of the connection (`stream`, `copyTo`)
 * with nothing lost or read twice. It works on any `Connection`, on both layers.
 *
 * Memory is bounded whatever the peer sends: the reader pulls a batch only when
 * what it holds cannot answer the operation, and no operation waits for more
 * once it holds `limit` bytes without an answer. So it never holds more than
 * `limit + separator length - 1` bytes plus one pulled batch (a batch is at most
 * the connection's `readLimit`).
 *
 * Programming errors are defects (`Cause.IllegalArgumentError`), not failures:
 * a `limit` that is not a whole number from 1, a negative or fractional count,
 * an empty separator.
 *
 * @since 0.2.0
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import type { Connection } from "./Connection.ts"
import { ReaderImpl } from "./internal/reader.ts"
import type { ReadError, WriteError } from "./OSError.ts"
import type { IncompleteReadError, LimitOverrunError } from "./StreamError.ts"

/**
 * A buffered reader over one connection's stream; one fiber reads at a time,
 * as with the stream itself.
 *
 * @since 0.2.0
 * @category models
 */
export interface Reader {
  /** The connection read. */
  readonly connection: Connection
  /** How far a separator search (`readUntil`, `readLine`) and `readExactly` may reach, in bytes. */
  readonly limit: number
  /**
   * Up to `n` bytes: what is buffered, or else the next batch that arrives; at
   * least one byte unless at the end, where it is an empty array (asyncio's
   * `read(n)`). `read(0)` is an empty array at once.
   */
  readonly read: (n: number) => Effect.Effect<Uint8Array, ReadError>
  /**
   * Exactly `n` bytes. The peer's FIN first: `IncompleteReadError` with the
   * bytes that came (`partial`, consumed) and `expected: n`. Unlike asyncio, `n`
   * past `limit` fails at once with `LimitOverrunError` (nothing consumed), so
   * a length read off the wire cannot make the reader buffer without bound.
   */
  readonly readExactly: (n: number) => Effect.Effect<Uint8Array, ReadError | IncompleteReadError | LimitOverrunError>
  /**
   * Everything through the first `separator` (bytes, or a string as UTF-8),
   * separator included (asyncio's `readuntil`).
   *
   * - The separator starts past `limit` bytes, or `limit` bytes are buffered
   *   with no start of it: `LimitOverrunError`, and every byte stays in the
   *   reader, as in asyncio (`consumed: 0`). `noSeparatorBefore` (asyncio's
   *   `consumed`) counts the leading bytes that hold no start of the separator.
   * - The peer's FIN first: `IncompleteReadError` with all that was buffered
   *   (`partial`, consumed) and `expected: undefined`.
   */
  readonly readUntil: (
    separator: Uint8Array | string
  ) => Effect.Effect<Uint8Array, ReadError | IncompleteReadError | LimitOverrunError>
  /**
   * A line through its `\n` (asyncio's `readline`). At the peer's FIN it is
   * whatever is left (an empty array at the end). On an overrun it fails with
   * `LimitOverrunError` after dropping, as asyncio does, the line through its
   * `\n` when the `\n` is buffered, or else everything buffered, whose line goes
   * on in what comes next (it reads as the next line); `consumed` is the count
   * dropped.
   */
  readonly readLine: Effect.Effect<Uint8Array, ReadError | LimitOverrunError>
  /** Nothing buffered and the peer's FIN seen (asyncio's `at_eof`). */
  readonly atEof: Effect.Effect<boolean>
  /** Bytes buffered, read off the connection but not yet by the reader's user. */
  readonly buffered: Effect.Effect<number>
  /**
   * The rest of the connection: the buffered bytes, then the connection's
   * stream. Running it stops the reader's pull first; the reader may be used
   * again once the stream's run ended (what that run pulled is its own).
   */
  readonly stream: Stream.Stream<Uint8Array, ReadError>
  /**
   * Writes the buffered bytes to `destination`, then `connection.copyTo(destination)`
   * (socket to socket with no Effect per chunk between two connections of the
   * Node layer), until the peer's FIN; succeeds with the count of both.
   */
  readonly copyTo: (destination: Connection) => Effect.Effect<number, ReadError | WriteError>
}

/**
 * The options of `make`.
 *
 * @since 0.2.0
 * @category models
 */
export interface Options {
  /** The limit in bytes, a whole number from 1; 64 KiB (asyncio's default) unless given. */
  readonly limit?: number | undefined
}

/**
 * asyncio's default limit: 64 KiB.
 *
 * @since 0.2.0
 * @category constants
 */
export const defaultLimit = 64 * 1024

/**
 * A reader of `connection`, which must not be read otherwise while the reader
 * is in use (hand it over with `stream` or `copyTo`). What it pulls is
 * released with the scope. A bad `limit` is a defect (`Cause.IllegalArgumentError`).
 *
 * @since 0.2.0
 * @category constructors
 */
export const make = (connection: Connection, options?: Options): Effect.Effect<Reader, never, Scope.Scope> =>
  Effect.suspend(() => {
    const limit = options?.limit ?? defaultLimit
    if (!Number.isSafeInteger(limit) || limit < 1) {
      return Effect.die(
        new Cause.IllegalArgumentError(`Reader.make: limit must be a whole number of bytes from 1, not ${limit}`)
      )
    }
    return Effect.map(Effect.scope, (scope): Reader => new ReaderImpl(connection, limit, scope))
  })
