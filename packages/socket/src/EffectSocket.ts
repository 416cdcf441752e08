/**
 * Interop with `effect/socket`: our connections as its `Socket`, a reconnecting
 * client `Socket` and a `SocketServer`, both on the `Tcp` service, so Effect's
 * RPC (`RpcClient.layerProtocolSocket`, `RpcServer.layerProtocolSocketServer`)
 * runs over `Tcp.layer` and `Tcp.layerTest` alike.
 *
 * Failures keep our typed errors: a failed connect is a `SocketError` with a
 * `SocketOpenError` reason (kind `Timeout` for our `TimeoutError`), a read or
 * write failure a `SocketReadError` or `SocketWriteError`, and in each the
 * `cause` is the `OSError` (e.g. `ConnectionRefusedError`).
 *
 * @since 0.2.0
 */
import type * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as Socket from "effect/socket/Socket"
import * as SocketServer from "effect/socket/SocketServer"
import type { Connection } from "./Connection.ts"
import * as Adapter from "./internal/interop/adapter.ts"
import * as Client from "./internal/interop/client.ts"
import * as Server from "./internal/interop/server.ts"
import type { ConnectOptions, ListenOptions, Tcp } from "./Tcp.ts"

/**
 * Adapts one open connection to `effect/socket`'s `Socket`, so the rest of the
 * Effect ecosystem (`Socket.toChannel`, RPC, ...) runs on it. It cannot
 * reconnect: for a client that does, use `connect`.
 *
 * - The reader pulls batches from `connection.stream` (run once per reader
 *   acquisition, with its backpressure). As `Socket` requires, its pull never
 *   ends with `Done`: the peer's FIN fails it with a `SocketCloseError` of code
 *   1000, a read error with a `SocketReadError` whose `cause` is the typed
 *   error, and closing the reader's scope fails a suspended pull with code 1006.
 * - The writer writes bytes, and strings as UTF-8, with the connection's
 *   backpressure; write errors become a `SocketWriteError` whose `cause` is the
 *   typed error. A `CloseEvent` of code 1000 half-closes (`end`), any other
 *   code resets the connection. Releasing the writer's scope half-closes too
 *   (waiting at most 5 seconds for the flush).
 * - TLS upgrades are not supported.
 *
 * The connection itself stays owned by its own scope.
 *
 * @since 0.2.0
 * @category interop
 */
export const toSocket: (connection: Connection) => Socket.Socket = Adapter.toSocket

/**
 * A client `Socket` that opens a new connection through the `Tcp` service
 * (with `Tcp.connect`'s options) each time its reader is acquired, as
 * `NodeSocket.makeNet` does on `node:net`: closing the reader's scope closes
 * that connection, and acquiring it again reconnects. So an RPC client over
 * `RpcClient.layerProtocolSocket` reconnects after the connection is lost
 * (with `retryTransientErrors`, a refused connect is retried quietly) and
 * survives a server restart.
 *
 * A failed connect fails the reader with a `SocketOpenError` whose `cause` is
 * the typed `ConnectError`. The writer writes to the current reader's
 * connection, and waits while there is none; releasing it half-closes the
 * current connection.
 *
 * @since 0.2.0
 * @category constructors
 */
export const connect: (options: ConnectOptions) => Effect.Effect<Socket.Socket, never, Tcp> = Client.connect

/**
 * The `Socket.Socket` service as `connect` makes it, e.g. for
 * `RpcClient.layerProtocolSocket`.
 *
 * @since 0.2.0
 * @category layers
 */
export const layer = (options: ConnectOptions): Layer.Layer<Socket.Socket, never, Tcp> =>
  Layer.effect(Socket.Socket, connect(options))

/**
 * A `SocketServer` on `Tcp.listen` (with its options), owned by the current
 * scope: each accepted connection is handed to `run`'s handler as a `Socket`
 * (see `toSocket`), in its own fiber, as `Server.serve` runs handlers. Its
 * `address` is the bound one (the real port when 0 was asked for).
 *
 * Interrupting `run` stops accepting and ends its connections at once (an RPC
 * connection has no end of its own to wait for); run it once per server. A
 * failed listen is a `SocketServerError` whose reason's `cause` is the typed
 * `ListenError` (e.g. `AddressInUseError`).
 *
 * @since 0.2.0
 * @category constructors
 */
export const makeServer: (
  options?: ListenOptions
) => Effect.Effect<SocketServer.SocketServer["Service"], SocketServer.SocketServerError, Tcp | Scope.Scope> =
  Server.make

/**
 * The `SocketServer` service as `makeServer` makes it, e.g. for
 * `RpcServer.layerProtocolSocketServer`.
 *
 * @since 0.2.0
 * @category layers
 */
export const layerServer = (
  options?: ListenOptions
): Layer.Layer<SocketServer.SocketServer, SocketServer.SocketServerError, Tcp> =>
  Layer.effect(SocketServer.SocketServer, makeServer(options))
