/**
 * The TCP service: `connect` and `listen`, behind an Effect service so that
 * programs depend on it and not on Node. `layer` runs it on `node:net`,
 * `layerTest` on an in-memory network (see `FakeNetwork`).
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import type { Address } from "./Address.ts"
import type { Connection } from "./Connection.ts"
import { FakeNetwork } from "./FakeNetwork.ts"
import * as FakeTcp from "./internal/fake/index.ts"
import * as NodeTcp from "./internal/node/index.ts"
import type { AcceptError, ConnectError, HandshakeError, ListenError } from "./OSError.ts"
import type { StartTlsOptions, TlsConnectOptions, TlsListenOptions } from "./Tls.ts"

/**
 * Options that apply to every connection, made by `connect` or accepted by a server.
 *
 * @since 0.1.0
 * @category models
 */
export interface SocketSettings {
  /** TCP_NODELAY. Default `true`, as in asyncio. */
  readonly noDelay?: boolean | undefined
  /** SO_KEEPALIVE: `true`, or the idle time before the first probe. Default off. */
  readonly keepAlive?: boolean | Duration.Input | undefined
  /**
   * The most bytes read ahead of the consumer: reading pauses there (asyncio's `limit`), and no batch of
   * `stream` is larger. A whole number from 1; anything else fails with `OSError` (EINVAL). Default 64 KiB.
   */
  readonly readLimit?: number | undefined
  /**
   * SO_RCVBUF to ask the kernel for, in bytes (1 to 2^30; else EINVAL). Default: the kernel's.
   *
   * Node has no API for it: the Node layer calls setsockopt through the FFI package koffi, an optional
   * dependency, on each connection once it is established. Where koffi is not installed or cannot load (or the
   * platform is neither Linux nor macOS), `connect` and `listen` fail before they touch the OS with `OSError`
   * ENOTSUP whose detail names the option and the reason; a setsockopt that fails fails the connect (or the
   * accept: `serve` logs it and goes on) with the errno it reported. `layerTest` simulates the size with no FFI
   * (reported doubled on Linux, as the kernel does), so tests that ask for one pass there either way.
   */
  readonly receiveBufferSize?: number | undefined
  /** SO_SNDBUF to ask the kernel for, in bytes. Default: the kernel's. Set as `receiveBufferSize` is, with its failures. */
  readonly sendBufferSize?: number | undefined
  /**
   * How long closing the connection (its scope) waits for what was written to leave the process
   * when the peer does not read. Past it the connection is reset (RST), so the peer sees
   * `ConnectionResetError`, never a clean end after bytes it did not get; an interrupted close
   * does not wait. Default 5 seconds.
   */
  readonly closeTimeout?: Duration.Input | undefined
}

/**
 * What `connect` takes: where to connect, an optional connect timeout and local
 * address, and the `SocketSettings` of the connection.
 *
 * @since 0.1.0
 * @category models
 */
export interface ConnectOptions extends SocketSettings {
  /** Default `127.0.0.1`. */
  readonly host?: string | undefined
  readonly port: number
  /** Fails with `TimeoutError` when the connection is not established in time. Default: none. */
  readonly timeout?: Duration.Input | undefined
  /** The local address to connect from. */
  readonly localAddress?: string | undefined
  /**
   * TLS: `true` verifies the server against Node's default CAs and the host's name; options say more (see
   * `Tls.TlsConnectOptions`). The connection is handed out once the handshake is done; a failed one fails
   * the connect with an SSL error (`SSLCertVerificationError`, `SSLError`, `SSLEOFError`) or `TimeoutError`.
   * Default: plain TCP.
   *
   * @since 0.2.0
   */
  readonly tls?: TlsConnectOptions | true | undefined
}

/**
 * What `listen` takes: where to bind, the backlog, `reusePort`,
 * `maxConnections`, `idleTimeout`, `shutdownGrace`, and the `SocketSettings`
 * of every accepted connection.
 *
 * @since 0.1.0
 * @category models
 */
export interface ListenOptions extends SocketSettings {
  /** Default `127.0.0.1`: never all interfaces unless asked. */
  readonly host?: string | undefined
  /** Default 0: a free port, then in `Server.address`. */
  readonly port?: number | undefined
  /** Default 100, as the seed. */
  readonly backlog?: number | undefined
  /** SO_REUSEPORT, so several processes can share the port. Default `false`. */
  readonly reusePort?: boolean | undefined
  /**
   * Connections beyond this are reset at once (the client sees `ConnectionResetError`) and counted as
   * rejected. A whole number from 1. Default: no limit but the process's file descriptors: on Linux the
   * Node layer also caps connections at what the open-files limit leaves room for, and logs what it turns
   * away as `TooManyOpenFilesError`.
   */
  readonly maxConnections?: number | undefined
  /** A connection with no traffic either way for this long fails its reads with `TimeoutError`. Default: none. */
  readonly idleTimeout?: Duration.Input | undefined
  /** How long running handlers may finish when the server's scope closes. Default 10 seconds. */
  readonly shutdownGrace?: Duration.Input | undefined
  /**
   * TLS: every connection is handed out (to `accept` or to `serve`'s handler) once its handshake is done. A
   * failed handshake, or one slower than `handshakeTimeout`, is that connection's typed error: `accept`
   * fails with it, `serve` logs it (with the connection's id and peer) and goes on. A certificate or key
   * that cannot be used fails `listen` with `SSLError` before anything binds. Default: plain TCP.
   *
   * @since 0.2.0
   */
  readonly tls?: TlsListenOptions | undefined
}

/**
 * Counters of a server's connections.
 *
 * @since 0.1.0
 * @category models
 */
export interface ServerStats {
  /** Accepted connections open now, whether a handler, `accept`'s caller or nobody yet holds them. */
  readonly active: number
  /** Connections the server took since it started, for `accept` or `serve`; rejected ones are not among them. */
  readonly accepted: number
  /** Connections reset at once because `maxConnections` (or the descriptor budget) was reached. */
  readonly rejected: number
}

/**
 * A listening socket, owned by the `Scope` that `listen` ran in. Closing that
 * scope stops accepting at once, lets running handlers finish within the
 * shutdown grace period, then interrupts the rest and closes every socket.
 *
 * @since 0.1.0
 * @category models
 */
export interface Server {
  /** The bound address (with the real port when 0 was asked for). */
  readonly address: Address
  /** Waits for the next connection; it is owned by the caller's scope. */
  readonly accept: Effect.Effect<Connection, AcceptError, Scope.Scope>
  /**
   * Runs `handler` for every connection, each in its own fiber and scope (the
   * connection closes when its handler ends). A handler's failure ends that
   * connection only and is logged with its typed error; accept errors are
   * logged and the server keeps serving. Runs until interrupted; handlers
   * belong to the server, so interrupting `serve` closes the listening socket
   * at once (new connections are refused) while running handlers get the
   * shutdown grace period when the server's scope closes.
   */
  readonly serve: <E, R>(
    handler: (connection: Connection) => Effect.Effect<unknown, E, R>
  ) => Effect.Effect<never, never, R>
  readonly stats: Effect.Effect<ServerStats>
}

/**
 * The TCP service.
 *
 * @since 0.1.0
 * @category services
 */
export class Tcp extends Context.Service<Tcp, {
  readonly connect: (options: ConnectOptions) => Effect.Effect<Connection, ConnectError, Scope.Scope>
  readonly listen: (options?: ListenOptions) => Effect.Effect<Server, ListenError, Scope.Scope>
  /** STARTTLS on an open connection of this layer: see `Tls.startTls`. */
  readonly startTls: (
    connection: Connection,
    options: StartTlsOptions
  ) => Effect.Effect<Connection, HandshakeError, Scope.Scope>
}>()("@effect-tcp/socket/Tcp") {}

/**
 * Opens a connection, owned by the current scope.
 *
 * @since 0.1.0
 * @category accessors
 */
export const connect = (options: ConnectOptions): Effect.Effect<Connection, ConnectError, Tcp | Scope.Scope> =>
  Effect.flatMap(Tcp, (tcp) => tcp.connect(options))

/**
 * Binds a listener, owned by the current scope.
 *
 * @since 0.1.0
 * @category accessors
 */
export const listen = (options?: ListenOptions): Effect.Effect<Server, ListenError, Tcp | Scope.Scope> =>
  Effect.flatMap(Tcp, (tcp) => tcp.listen(options))

/**
 * The Node.js implementation, on `node:net`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Tcp> = Layer.effect(Tcp, NodeTcp.make)

/**
 * Fake sockets: the same service on an in-memory network, with `FakeNetwork`
 * to script faults and read the wire log. Nothing touches the OS.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerTest: Layer.Layer<Tcp | FakeNetwork> = Layer.effectContext(
  Effect.map(FakeTcp.make, ({ network, tcp }) => Context.make(Tcp, tcp).pipe(Context.add(FakeNetwork, network)))
)
