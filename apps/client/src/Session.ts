/**
 * An echo session on one connection: every byte written is remembered until
 * its echo comes back, and every byte that comes back is checked against it,
 * so a mismatch is caught at the first differing byte, with memory bounded by
 * what is in flight. A reader fiber consumes the connection's stream for the
 * whole session; writers and waiters meet it through counters.
 *
 * @since 0.1.0
 */
import type { Connection, OSError } from "@effect-tcp/socket"
import { Address } from "@effect-tcp/socket"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import type * as Scope from "effect/Scope"
import * as Sink from "effect/Sink"
import * as Stream from "effect/Stream"
import * as EchoMismatch from "./EchoMismatchError.ts"
import type { EchoMismatchError } from "./EchoMismatchError.ts"

const asBuffer = (bytes: Uint8Array): Buffer =>
  Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)

/**
 * The bytes sent and not yet echoed, in order; `check` consumes them as the echo arrives.
 *
 * @since 0.1.0
 * @category models
 */
export class InFlight {
  private chunks: Array<Buffer> = []
  private head = 0
  private offset = 0
  /** Bytes sent so far. */
  sent = 0
  /** Bytes echoed (and verified) so far. */
  echoed = 0

  push(bytes: Uint8Array): void {
    if (bytes.length === 0) return
    this.chunks.push(asBuffer(bytes))
    this.sent += bytes.length
  }

  /** Checks the next echoed chunk against what was sent; an error at the first difference. */
  check(chunk: Uint8Array, peer: string): EchoMismatchError | undefined {
    const received = asBuffer(chunk)
    let position = 0
    while (position < received.length) {
      const expected = this.chunks[this.head]
      if (expected === undefined) {
        return EchoMismatch.extra(this.echoed, received.subarray(position), peer)
      }
      const n = Math.min(expected.length - this.offset, received.length - position)
      if (expected.compare(received, position, position + n, this.offset, this.offset + n) !== 0) {
        let i = 0
        while (expected[this.offset + i] === received[position + i]) i++
        return EchoMismatch.differs(
          this.echoed + i,
          expected.subarray(this.offset + i),
          received.subarray(position + i),
          peer
        )
      }
      position += n
      this.echoed += n
      this.offset += n
      if (this.offset === expected.length) {
        this.chunks[this.head] = undefined as unknown as Buffer
        this.head++
        this.offset = 0
        if (this.head > 1024 && this.head * 2 > this.chunks.length) {
          this.chunks = this.chunks.slice(this.head)
          this.head = 0
        }
      }
    }
    return undefined
  }
}

/**
 * What can go wrong while the echo comes back.
 *
 * @since 0.1.0
 * @category models
 */
export type EchoError<E = never> = OSError.ReadError | EchoMismatchError | E

/**
 * @since 0.1.0
 * @category models
 */
export interface Session<E = never> {
  readonly connection: Connection.Connection
  /** `host:port` of the server. */
  readonly peer: string
  /** Writes bytes, remembering them until their echo has come back. */
  readonly send: (bytes: Uint8Array) => Effect.Effect<void, OSError.WriteError>
  /** Waits until everything sent so far has been echoed. */
  readonly awaitEcho: Effect.Effect<void, EchoError<E>>
  /** Waits until the server ends the stream, then checks that everything sent was echoed. */
  readonly awaitEnd: Effect.Effect<void, EchoError<E>>
  /** Bytes sent so far. */
  readonly sent: () => number
  /** Bytes echoed so far. */
  readonly echoed: () => number
}

/**
 * Starts a session on a connection: a reader fiber, owned by the current scope,
 * checks the echo and passes it on to `output` (stdout for `--stdin`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = Effect.fnUntraced(function*<E = never>(
  connection: Connection.Connection,
  output: Sink.Sink<unknown, Uint8Array, unknown, E> = Sink.drain
): Effect.fn.Return<Session<E>, never, Scope.Scope> {
  const peer = Address.format(connection.remoteAddress)
  const inFlight = new InFlight()
  let progress = yield* Deferred.make<void>()
  let ended: Exit.Exit<void, EchoError<E>> | undefined

  const notify = Effect.suspend(() => {
    const current = progress
    progress = Deferred.makeUnsafe<void>()
    return Deferred.succeed(current, undefined)
  })

  const reader = yield* connection.stream.pipe(
    Stream.mapEffect((chunk) => {
      const error = inFlight.check(chunk, peer)
      return error === undefined ? Effect.as(notify, chunk) : Effect.fail(error)
    }),
    Stream.run(output),
    Effect.asVoid,
    Effect.onExit((exit) =>
      Effect.suspend(() => {
        ended = exit
        return notify
      })
    ),
    Effect.forkScoped
  )

  const awaitEcho: Effect.Effect<void, EchoError<E>> = Effect.suspend(function loop(): Effect.Effect<
    void,
    EchoError<E>
  > {
    if (inFlight.echoed >= inFlight.sent) return Effect.void
    if (ended !== undefined) {
      return Exit.isFailure(ended)
        ? ended
        : Effect.fail(EchoMismatch.ended(inFlight.echoed, inFlight.sent - inFlight.echoed, peer))
    }
    return Effect.flatMap(Deferred.await(progress), loop)
  })

  const awaitEnd: Effect.Effect<void, EchoError<E>> = Fiber.join(reader).pipe(
    Effect.andThen(awaitEcho)
  )

  return {
    connection,
    peer,
    send: (bytes) =>
      Effect.suspend(() => {
        inFlight.push(bytes)
        return connection.write(bytes)
      }),
    awaitEcho,
    awaitEnd,
    sent: () => inFlight.sent,
    echoed: () => inFlight.echoed
  }
})
