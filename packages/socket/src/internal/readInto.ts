// A connection that can read straight into a Reader's buffer: the bytes are
// pushed from the socket's own event, before the waiting fiber is resumed, so
// no batch is ever in flight as an Effect value and an interruption can lose
// none. The Reader uses it where a connection offers it (the Node layer), and
// pulls the connection's stream otherwise.
import type * as Effect from "effect/Effect"
import type { Connection } from "../Connection.ts"
import type * as OSError from "../OSError.ts"

/** Where the bytes go. */
export interface Target {
  /** Chunks read, in order, none of them empty. */
  push(chunks: ReadonlyArray<Uint8Array>): void
  /** The peer's FIN: nothing more will come. */
  end(): void
}

export const key: unique symbol = Symbol.for("@effect-tcp/socket/readInto")

export interface ReadsInto {
  /** Waits until at least one chunk, or the end, has been given to `target`. */
  readonly [key]: (target: Target) => Effect.Effect<void, OSError.ReadError>
}

export const readsInto = (connection: Connection): connection is Connection & ReadsInto =>
  typeof (connection as Partial<ReadsInto>)[key] === "function"
