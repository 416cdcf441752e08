// How a Node connection ends: a half-close (`end`), a reset, and the close its
// scope runs. Nothing a peer was sent is dropped silently: a close flushes what
// Node holds within `closeTimeout`, and past it (or on interruption) resets, so
// the peer sees `ConnectionResetError` rather than a clean end after lost bytes.
// A TLS connection closes as `end` does (close_notify, then FIN) before its
// socket is destroyed, within the same `closeTimeout`.
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Net from "node:net"
import type * as OSError from "../../OSError.ts"
import type { NodeConnection } from "./connection.ts"

function onFinishThenDestroy(this: Net.Socket): void {
  this.destroy()
}

/**
 * An RST: what Node still holds for the peer is dropped, and the peer is told so. A Unix socket has no RST
 * (Node throws ERR_INVALID_HANDLE_TYPE, as documented): it is closed at once, dropping what Node holds, and its
 * peer reads the end, or ECONNRESET where this end left bytes unread (Linux).
 */
export const reset = (socket: Net.Socket): void => {
  if (socket.destroyed) return
  try {
    socket.resetAndDestroy()
  } catch {
    socket.destroy()
  }
}

function resetConnection(connection: NodeConnection): void {
  connection.resetNow()
}

/** The socket closed: a flush no longer waits. */
export const closed = (socket: Net.Socket): void => {
  socket.off("finish", onFinishThenDestroy)
}

/** Half-close: flushes what was written and sends FIN; succeeds once Node has handed it all to the kernel. */
export const end = (connection: NodeConnection): Effect.Effect<void, OSError.WriteError> =>
  Effect.callback<void, OSError.WriteError>((resume) => {
    const socket = connection.socket
    if (socket.writableFinished) return resume(Effect.void)
    if (socket.destroyed) return resume(Effect.fail(connection.writeFailure()))
    const cleanup = () => {
      socket.off("finish", onFinish)
      socket.off("close", onGone)
    }
    const onFinish = () => {
      cleanup()
      resume(Effect.void)
    }
    const onGone = () => {
      cleanup()
      resume(socket.writableFinished ? Effect.void : Effect.fail(connection.writeFailure()))
    }
    socket.on("finish", onFinish)
    socket.on("close", onGone)
    if (!socket.writableEnded) socket.end()
    return Effect.sync(cleanup)
  })

/**
 * Starts closing. Nothing of ours waiting in Node's buffer: at once (the kernel flushes its own).
 * Otherwise once Node has flushed, within `closeTimeout`; past it, or on interruption, with a reset.
 * TLS: once its close_notify and FIN are out (unless an `end` sent them already), in the same way.
 */
export const shut = (connection: NodeConnection, interrupted: boolean): void => {
  const socket = connection.socket
  if (connection.closed || socket.destroyed) return
  if (socket.writableLength === 0 && (connection.secure === undefined || socket.writableFinished)) {
    return void socket.destroy()
  }
  const wait = connection.settings.closeTimeoutMillis
  if (interrupted || wait === 0) return connection.resetNow()
  connection.flushTimer ??= setTimeout(resetConnection, wait, connection)
  socket.on("finish", onFinishThenDestroy)
  if (!socket.writableEnded) socket.end()
}

/** The scope's finalizer: closes the socket (see `shut`) and waits until its handle is gone. */
export const close = (connection: NodeConnection, exit: Exit.Exit<unknown, unknown>): Effect.Effect<void> =>
  Effect.callback<void>((resume) => {
    if (connection.closed) return resume(Effect.void)
    ;(connection.closeWaiters ??= []).push(() => resume(Effect.void))
    shut(connection, Exit.hasInterrupts(exit))
  })
