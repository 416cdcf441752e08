// A `Socket` that connects through the Tcp service each time its reader is acquired, as NodeSocket.makeNet does
// on node:net: an RPC client's retry acquires the reader again, and so reconnects after the server went away.
//
// The writer is acquired once and outlives connections: it writes to the connection the current reader opened,
// and waits (as NodeSocket's does) while there is none. A write that fails ends that connection's reader with
// the write's error instead of failing the writer: RPC treats a failed write as a defect of the call, but a read
// error as the connection's, which fails the calls in flight with a typed error and reconnects. A peer that
// went away between two reads is then one more lost connection, not a crash.
import * as Effect from "effect/Effect"
import * as Latch from "effect/Latch"
import * as Scope from "effect/Scope"
import * as Socket from "effect/socket/Socket"
import type { Connection } from "../../Connection.ts"
import type { ConnectError } from "../../OSError.ts"
import { Tcp } from "../../Tcp.ts"
import type { ConnectOptions } from "../../Tcp.ts"
import * as Adapter from "./adapter.ts"

/** A failed connect is a `SocketOpenError` (what RPC's `retryTransientErrors` retries), the typed error its cause. */
const openError = (cause: ConnectError): Socket.SocketError =>
  new Socket.SocketError({
    reason: new Socket.SocketOpenError({ kind: cause._tag === "TimeoutError" ? "Timeout" : "Unknown", cause })
  })

export const connect = (options: ConnectOptions): Effect.Effect<Socket.Socket, never, Tcp> =>
  Effect.map(Tcp, (tcp) => {
    let current: { readonly connection: Connection; readonly reader: Adapter.Reader } | undefined
    const open = Latch.makeUnsafe(false)

    const reader: Socket.Socket["reader"] = Effect.gen(function*() {
      const scope = yield* Effect.scope
      // Owned by the reader's scope: releasing the reader closes this connection.
      const connection = yield* Effect.mapError(tcp.connect(options), openError)
      const reader = yield* Adapter.openReader(connection)
      const live = { connection, reader }
      current = live
      open.openUnsafe()
      yield* Scope.addFinalizer(
        scope,
        Effect.sync(() => {
          if (current !== live) return
          current = undefined
          open.closeUnsafe()
        })
      )
      return reader
    })

    /** Runs `write` on the current connection (waiting for one); its failure goes to that connection's reader. */
    const onCurrent = (
      write: (connection: Connection) => Effect.Effect<void, Socket.SocketError>
    ): Effect.Effect<void> =>
      Effect.suspend(() => {
        const live = current
        if (live === undefined) return open.whenOpen(onCurrent(write))
        return Effect.catch(write(live.connection), (error) => Effect.sync(() => live.reader.fail(error)))
      })

    const writer: Socket.Socket["writer"] = Effect.acquireRelease(
      Effect.succeed<Socket.Writer>({
        write: (chunk) => onCurrent((connection) => Adapter.write(connection, chunk)),
        writeAll: (chunks) => onCurrent((connection) => Adapter.writeAll(connection, chunks))
      }),
      () => Effect.suspend(() => current === undefined ? Effect.void : Adapter.endWriter(current.connection))
    )

    return Socket.make({ reader, writer })
  })
