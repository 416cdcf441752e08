// asyncio's StreamReader over a `Connection`'s one stream (Reader.ts documents
// the API). Every operation first tries what is buffered, synchronously; only
// when that is not enough does it read one batch and try again, so nothing is
// read ahead of what an operation needs. A Node connection pushes the batch
// into the buffer itself (readInto.ts); any other is pulled, through a pull
// opened lazily and closed (its scope) before `stream` or `copyTo` hands the
// connection over.
import * as Cause from "effect/Cause"
import * as Channel from "effect/Channel"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Pull from "effect/Pull"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { Connection } from "../Connection.ts"
import type * as OSError from "../OSError.ts"
import { IncompleteReadError, LimitOverrunError } from "../StreamError.ts"
import { Chunks } from "./chunks.ts"
import * as ReadInto from "./readInto.ts"

type Batch = Pull.Pull<readonly [Uint8Array, ...Array<Uint8Array>], OSError.ReadError>

/** One try of an operation on what is buffered: its result, or `undefined` to pull more and try again. */
type Attempt<A, E> = () => Effect.Effect<A, E> | undefined

const encoder = new TextEncoder()
const newline = encoder.encode("\n")

const illegal = (message: string) => Effect.die(new Cause.IllegalArgumentError(message))

const isCount = (n: number): boolean => Number.isSafeInteger(n) && n >= 0

export class ReaderImpl {
  readonly connection: Connection
  readonly limit: number
  private readonly scope: Scope.Scope
  private readonly chunks = new Chunks()
  /** The peer's FIN was pulled: nothing more will come. */
  private eof = false
  private pull: Batch | undefined = undefined
  private pullScope: Scope.Closeable | undefined = undefined
  /** One batch pulled into the buffer, or `eof` set. */
  private readonly fill: Effect.Effect<void, OSError.ReadError>

  constructor(connection: Connection, limit: number, scope: Scope.Scope) {
    this.connection = connection
    this.limit = limit
    this.scope = scope
    this.fill = ReadInto.readsInto(connection) ? connection[ReadInto.key](this.target()) : this.pullInto()
    // bound, so they may be passed around as the functions the `Reader` interface declares
    this.read = this.read.bind(this)
    this.readExactly = this.readExactly.bind(this)
    this.readUntil = this.readUntil.bind(this)
    this.copyTo = this.copyTo.bind(this)
  }

  /** Where a connection that reads into the buffer itself (readInto.ts) puts its bytes. */
  private target(): ReadInto.Target {
    return {
      push: (chunks) => this.chunks.push(chunks),
      end: () => {
        this.eof = true
      }
    }
  }

  /** Any other connection's: a batch pulled from its stream, then pushed into the buffer. */
  private pullInto(): Effect.Effect<void, OSError.ReadError> {
    const pullInto = Effect.uninterruptibleMask((restore) =>
      // uninterruptible once the batch is in hand: an interruption never drops pulled bytes
      Effect.matchCauseEffect(restore(Effect.suspend(() => this.pull!)), {
        onSuccess: (batch) => {
          this.chunks.push(batch)
          return Effect.void
        },
        onFailure: (cause) => {
          if (!Pull.isDoneCause(cause)) return Effect.failCause(cause as Cause.Cause<OSError.ReadError>)
          this.eof = true
          return Effect.void
        }
      })
    )
    return Effect.suspend(() => this.pull === undefined ? Effect.andThen(this.open, pullInto) : pullInto)
  }

  private get open(): Effect.Effect<void> {
    return Effect.suspend(() => {
      const scope = Scope.forkUnsafe(this.scope)
      // the bare pull: one fiber reads at a time (as with the stream itself), so no semaphore per pull
      return Effect.map(Channel.toPullScoped(this.connection.stream.channel, scope), (pull) => {
        this.pull = pull
        this.pullScope = scope
      })
    })
  }

  /** Stops pulling: the connection's stream is free for another reader. */
  private get release(): Effect.Effect<void> {
    return Effect.suspend(() => {
      const scope = this.pullScope
      if (scope === undefined) return Effect.void
      this.pull = undefined
      this.pullScope = undefined
      return Scope.close(scope, Exit.void)
    })
  }

  /** Tries `attempt`, pulling a batch before each retry. */
  private until<A, E>(attempt: Attempt<A, E>): Effect.Effect<A, E | OSError.ReadError> {
    return attempt() ?? Effect.flatMap(this.fill, () => this.until(attempt))
  }

  get buffered(): Effect.Effect<number> {
    return Effect.sync(() => this.chunks.size)
  }

  get atEof(): Effect.Effect<boolean> {
    return Effect.sync(() => this.eof && this.chunks.size === 0)
  }

  read(n: number): Effect.Effect<Uint8Array, OSError.ReadError> {
    if (!isCount(n)) return illegal(`Reader.read: n must be a whole number of bytes from 0, not ${n}`)
    return Effect.suspend(() =>
      this.until(() =>
        n === 0 || this.eof || this.chunks.size > 0
          ? Effect.succeed(this.chunks.take(Math.min(n, this.chunks.size)))
          : undefined
      )
    )
  }

  readExactly(n: number): Effect.Effect<Uint8Array, OSError.ReadError | IncompleteReadError | LimitOverrunError> {
    if (!isCount(n)) return illegal(`Reader.readExactly: n must be a whole number of bytes from 0, not ${n}`)
    const limit = this.limit
    if (n > limit) {
      return Effect.fail(new LimitOverrunError({ consumed: 0, limit, what: `a read of exactly ${n} bytes` }))
    }
    return Effect.suspend(() =>
      this.until(() => {
        const size = this.chunks.size
        if (size >= n) return Effect.succeed(this.chunks.take(n))
        if (this.eof) return Effect.fail(new IncompleteReadError({ partial: this.chunks.take(size), expected: n }))
        return undefined
      })
    )
  }

  readUntil(
    separator: Uint8Array | string
  ): Effect.Effect<Uint8Array, OSError.ReadError | IncompleteReadError | LimitOverrunError> {
    const bytes = typeof separator === "string" ? encoder.encode(separator) : separator
    if (bytes.length === 0) return illegal("Reader.readUntil: the separator must be at least one byte long")
    return Effect.suspend(() => this.until(this.searcher(bytes, false)))
  }

  get readLine(): Effect.Effect<Uint8Array, OSError.ReadError | LimitOverrunError> {
    return Effect.suspend(() => this.until(this.searcher(newline, true) as Attempt<Uint8Array, LimitOverrunError>))
  }

  /**
   * asyncio's readuntil, one try: through the first separator when it starts within the limit;
   * `lines` turns its failures into readline's (the rest at the FIN, an overrun dropping the line).
   */
  private searcher(
    separator: Uint8Array,
    lines: boolean
  ): Attempt<Uint8Array, IncompleteReadError | LimitOverrunError> {
    const chunks = this.chunks
    const limit = this.limit
    // bytes known to hold no start of the separator: searched once, across pulls
    let searched = 0
    return () => {
      const size = chunks.size
      if (size - searched >= separator.length) {
        const at = chunks.indexOf(separator, searched)
        if (at >= 0 && at <= limit) return Effect.succeed(chunks.take(at + separator.length))
        if (at >= 0) {
          const what = lines ? `a line of ${at} bytes` : `the separator came after ${at} bytes`
          return Effect.fail(this.overrun(at, lines ? at + separator.length : 0, what))
        }
        searched = Math.max(0, size + 1 - separator.length)
        if (searched > limit) {
          const what = lines ? `a line of more than ${size} bytes` : `no separator in ${size} bytes`
          return Effect.fail(this.overrun(searched, lines ? size : 0, what))
        }
      }
      if (!this.eof) return undefined
      const partial = chunks.take(size)
      return lines ? Effect.succeed(partial) : Effect.fail(new IncompleteReadError({ partial, expected: undefined }))
    }
  }

  /**
   * The separator is not within the limit. readuntil leaves every byte where it was (`drop` 0);
   * readline drops through the separator, or all it holds when there is none (the rest of that
   * line is still to come, and reads as the next line).
   */
  private overrun(noSeparatorBefore: number, drop: number, what: string): LimitOverrunError {
    this.chunks.skip(drop)
    return drop === 0
      ? new LimitOverrunError({ consumed: 0, limit: this.limit, what, noSeparatorBefore })
      : new LimitOverrunError({ consumed: drop, limit: this.limit, what })
  }

  get stream(): Stream.Stream<Uint8Array, OSError.ReadError> {
    return Stream.unwrap(Effect.map(this.release, () => {
      const chunks = this.chunks.drain()
      const rest = this.eof ? Stream.empty : this.connection.stream
      return chunks.length === 0 ? rest : Stream.concat(Stream.fromArray(chunks), rest)
    }))
  }

  copyTo(destination: Connection): Effect.Effect<number, OSError.ReadError | OSError.WriteError> {
    return Effect.flatMap(this.release, () => {
      const chunks = this.chunks.drain()
      let written = 0
      for (let i = 0; i < chunks.length; i++) written += chunks[i].length
      const rest = this.eof ? Effect.succeed(0) : this.connection.copyTo(destination)
      const copied = Effect.map(rest, (n) => n + written)
      return chunks.length === 0 ? copied : Effect.andThen(destination.writeAll(chunks), copied)
    })
  }
}
