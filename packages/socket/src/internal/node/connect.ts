// `Tcp.connect` on node:net: the connection is owned by the caller's scope from
// the moment it exists, and a connect that fails, times out or is interrupted
// reports only once its handle is gone. TLS: the connection is made once the
// handshake after the TCP connect is done (tls.ts); a failed one reports as
// the connect's error, once the socket is closed.
import * as Effect from "effect/Effect"
import * as Net from "node:net"
import type { Connection } from "../../Connection.ts"
import * as OSError from "../../OSError.ts"
import type { ConnectOptions } from "../../Tcp.ts"
import * as Errors from "../errors.ts"
import * as Settings from "../settings.ts"
import * as TlsOptions from "../tls/options.ts"
import { NodeConnection } from "./connection.ts"
import * as Socket from "./socket.ts"
import * as NodeTls from "./tls.ts"

export const connect = Effect.fn("Tcp.connect")(function*(options: ConnectOptions) {
  const { host, localAddress, port, settings, timeoutMillis } = yield* Settings.connect(options)
  const unsupported = Socket.bufferSizesUnsupported(settings)
  if (unsupported !== undefined) return yield* Effect.fail(Errors.unsupported("connect", host, port, unsupported))
  const tls = options.tls === undefined ? undefined : yield* TlsOptions.client(options.tls, host, port)
  let connection: NodeConnection | undefined
  // The finalizer comes first, so no interruption can leave an open socket unowned.
  yield* Effect.addFinalizer((exit) => connection === undefined ? Effect.void : connection.close(exit))
  return yield* Effect.callback<Connection, OSError.ConnectError>((resume) => {
    let error: OSError.ConnectError | undefined
    let cancelled: (() => void) | undefined
    let abortHandshake: ((error: OSError.SocketError) => void) | undefined
    const socket = Net.createConnection({
      host,
      port,
      allowHalfOpen: true,
      // a Duplex option net.Socket passes on (@types/node leaves it out)
      ...({ writableHighWaterMark: settings.writeBufferSize } as {}),
      noDelay: settings.noDelay,
      keepAlive: settings.keepAlive,
      keepAliveInitialDelay: settings.keepAliveInitialDelay,
      ...(localAddress !== undefined ? { localAddress } : {})
    })
    const timer = timeoutMillis === undefined ? undefined : setTimeout(() => {
      error = Errors.connectTimedOut(host, port, timeoutMillis)
      socket.destroy()
    }, timeoutMillis)
    const cleanup = () => {
      if (timer !== undefined) clearTimeout(timer)
      socket.off("connect", onConnect)
      socket.off("error", onError)
      socket.off("close", onClose)
    }
    function onConnect() {
      const failed = Socket.setBufferSizes(socket, settings)
      if (failed !== undefined) {
        // reported by onClose, once the handle is gone; the peer sees a reset, not a connection that ended
        error = Errors.connect(failed.code, host, port, failed.detail)
        return void socket.resetAndDestroy()
      }
      cleanup()
      if (tls !== undefined) {
        return void (abortHandshake = NodeTls.handshake(socket, tls, settings, allowed, NodeTls.newId(), secured))
      }
      connection = new NodeConnection(socket, settings)
      // a client's own address (its ephemeral port) is worth keeping: read both now, while the kernel has them
      void connection.localAddress
      Socket.rememberPeer(socket)
      resume(Effect.succeed(connection))
    }
    function secured(outcome: NodeTls.Outcome) {
      if (cancelled !== undefined) return cancelled()
      if (!("socket" in outcome)) return resume(Effect.fail(outcome as OSError.ConnectError))
      resume(Effect.succeed(connection = NodeTls.connectionOf(outcome, settings)))
    }
    function onError(cause: Error) {
      error ??= Errors.fromNode("connect", cause, { host, port })
    }
    function onClose() {
      // Failed, timed out or cancelled: report only once the handle is gone.
      cleanup()
      socket.on("error", Socket.ignore)
      if (cancelled !== undefined) return cancelled()
      resume(Effect.fail(error ?? Errors.connect("ECONNABORTED", host, port)))
    }
    socket.on("connect", onConnect)
    socket.on("error", onError)
    socket.on("close", onClose)
    return Effect.callback<void>((resumeCancel) => {
      cancelled = () => resumeCancel(Effect.void)
      if (timer !== undefined) clearTimeout(timer)
      if (abortHandshake !== undefined) abortHandshake(Errors.connect("ECONNABORTED", host, port))
      else socket.destroy()
    })
  })
})

const allowed = OSError.tagsOf.connect
