// The one Stream transform every codec runs on: a codec is plain synchronous
// code that turns a batch of input into a batch of output, and this pull
// drives it one upstream batch at a time. One Effect per batch, none per frame.
import type { NonEmptyReadonlyArray } from "effect/Array"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Pull from "effect/Pull"
import * as Stream from "effect/Stream"

/**
 * A codec's state for one run of a stream. `push` and `end` append what they
 * produce to `out` and return the error that stops the stream, if any: what
 * was appended before the error is still delivered, then the stream fails.
 */
export interface Codec<A, B, X> {
  readonly push: (batch: NonEmptyReadonlyArray<A>, out: Array<B>) => X | undefined
  /** The upstream ended: flush a last frame, or fail on a partial one. */
  readonly end: (out: Array<B>) => X | undefined
}

/** Runs `self` through a fresh codec from `make` on every run of the stream. */
export const transform = <A, B, X, E, R>(
  self: Stream.Stream<A, E, R>,
  make: () => Codec<A, B, X>
): Stream.Stream<B, E | X, R> =>
  Stream.transformPull(self, (upstream) =>
    Effect.sync(() => {
      const codec = make()
      let failure: X | undefined
      let ended = false

      const deliver = (out: Array<B>, orElse: Pull.Pull<NonEmptyReadonlyArray<B>, E | X, void>) =>
        out.length > 0
          ? Effect.succeed(out as unknown as NonEmptyReadonlyArray<B>)
          : failure !== undefined
          ? Effect.fail(failure)
          : orElse

      const pull: Pull.Pull<NonEmptyReadonlyArray<B>, E | X, void> = Effect.suspend(() => {
        if (failure !== undefined) return Effect.fail(failure)
        if (ended) return Cause.done()
        return Pull.matchEffect(upstream, {
          onSuccess: (batch) => {
            const out: Array<B> = []
            failure = codec.push(batch, out)
            return deliver(out, pull)
          },
          onFailure: Effect.failCause,
          onDone: () => {
            ended = true
            const out: Array<B> = []
            failure = codec.end(out)
            return deliver(out, Cause.done())
          }
        })
      })
      return pull
    }))
