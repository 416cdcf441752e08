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
import * as ClientIdle from "./clientIdle.ts"
import * as Closing from "./closing.ts"
import { NodeConnection } from "./connection.ts"
import * as DeadPeers from "./deadPeers.ts"
import * as Socket from "./socket.ts"
import * as NodeTls from "./tls.ts"
import * as Unix from "./unix.ts"

export const connect = Effect.fn("Tcp.connect")(function*(options: ConnectOptions) {
  const { host, idleTimeoutMillis, localAddress, path, port, settings, timeoutMillis, where } = yield* Settings.connect(
    options
  )
  const unsupported = Socket.bufferSizesUnsupported(settings) ??
    (path === undefined ? DeadPeers.unsupported(settings) : undefined)
  if (unsupported !== undefined) return yield* Effect.fail(Errors.unsupported("connect", where, unsupported))
  const tls = options.tls === undefined ? undefined : yield* TlsOptions.client(options.tls, host, port)
  let connection: NodeConnection | undefined
  const unix = path === undefined ? undefined : Unix.clientEnds(path)
  // The finalizer comes first, so no interruption can leave an open socket unowned.
  yield* Effect.addFinalizer((exit) => connection === undefined ? Effect.void : connection.close(exit))
  return yield* Effect.callback<Connection, OSError.ConnectError>((resume) => {
    let error: OSError.ConnectError | undefined
    let cancelled: (() => void) | undefined
    let abortHandshake: ((error: OSError.SocketError) => void) | undefined
    const socket = Net.createConnection({
      // a Duplex option net.Socket passes on (@types/node leaves it out)
      ...({ writableHighWaterMark: settings.writeBufferSize } as {}),
      allowHalfOpen: true,
      ...(path !== undefined ? { path } : {
        host,
        port,
        noDelay: settings.noDelay,
        keepAlive: settings.keepAlive,
        keepAliveInitialDelay: settings.keepAliveInitialDelay,
        ...(localAddress !== undefined ? { localAddress } : {})
      })
    })
    const timer = timeoutMillis === undefined ? undefined : setTimeout(() => {
      error = Errors.connectTimedOut(where, timeoutMillis)
      socket.destroy()
    }, timeoutMillis)
    const cleanup = () => {
      if (timer !== undefined) clearTimeout(timer)
      socket.off("connect", onConnect)
      socket.off("error", onError)
      socket.off("close", onClose)
    }
    function onConnect() {
      // keepalive and TCP_USER_TIMEOUT are TCP's: a Unix socket has neither
      const failed = Socket.setBufferSizes(socket, settings) ??
        (path === undefined ? DeadPeers.apply(socket, settings) : undefined)
      if (failed !== undefined) {
        // reported by onClose, once the handle is gone; the peer sees a reset, not a connection that ended
        error = Errors.connect(failed.code, where, failed.detail)
        return Closing.reset(socket)
      }
      cleanup()
      if (tls !== undefined) {
        return void (abortHandshake = NodeTls.handshake(socket, tls, settings, allowed, NodeTls.newId(), secured))
      }
      const idle = idleTimeoutMillis === undefined ? undefined : ClientIdle.watch(idleTimeoutMillis, socket)
      connection = new NodeConnection(socket, settings, idle?.idle, idle?.forget, unix)
      // a client's own address (its ephemeral port) is worth keeping: read both now, while the kernel has them
      void connection.localAddress
      Socket.rememberPeer(socket)
      resume(Effect.succeed(connection))
    }
    function secured(outcome: NodeTls.Outcome) {
      if (cancelled !== undefined) return cancelled()
      if (!("socket" in outcome)) return resume(Effect.fail(outcome as OSError.ConnectError))
      const idle = idleTimeoutMillis === undefined ? undefined : ClientIdle.watch(idleTimeoutMillis, socket)
      resume(Effect.succeed(connection = NodeTls.connectionOf(outcome, settings, idle?.idle, idle?.forget)))
    }
    function onError(cause: Error) {
      error ??= Errors.fromNode("connect", cause, where)
    }
    function onClose() {
      // Failed, timed out or cancelled: report only once the handle is gone.
      cleanup()
      socket.on("error", Socket.ignore)
      if (cancelled !== undefined) return cancelled()
      resume(Effect.fail(error ?? Errors.connect("ECONNABORTED", where)))
    }
    socket.on("connect", onConnect)
    socket.on("error", onError)
    socket.on("close", onClose)
    return Effect.callback<void>((resumeCancel) => {
      cancelled = () => resumeCancel(Effect.void)
      if (timer !== undefined) clearTimeout(timer)
      if (abortHandshake !== undefined) abortHandshake(Errors.connect("ECONNABORTED", where))
      else socket.destroy()
    })
  })
})

const allowed = OSError.tagsOf.connect
