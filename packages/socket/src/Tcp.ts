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
import type { AcceptError, ConnectError, ListenError } from "./OSError.ts"

/**
 * Options that apply to every connection, made by `connect` or accepted by a server.
 *
 * @since 0.1.0
 * @category models
 */
export interface SocketSettings {
  /** TCP_NODELAY. Default `true`, as in asyncio. */
  readonly noDelay?: boolean | undefined
  /**
   * TCP keepalive (SO_KEEPALIVE), so that a peer whose host or network is gone is noticed on a connection
   * that sends nothing: after `idle` without a packet from the peer the kernel probes it every `interval`,
   * and once `count` probes go unanswered the connection fails: reads with `TimeoutError` (ETIMEDOUT), and
   * a waiting write too. (A peer whose process hangs but whose kernel runs answers the probes: see
   * `userTimeout`.)
   *
   * `true` turns it on with the system's times; a duration is the `idle` time (whole seconds);
   * `KeepAliveOptions` set each of the three. Default off. Out of range fails `connect` and `listen` with `OSError` (EINVAL) naming the
   * option. `interval` and `count` are set with setsockopt through the FFI package koffi, with the failures
   * of `receiveBufferSize` (ENOTSUP without it); `idle` needs no FFI.
   */
  readonly keepAlive?: boolean | Duration.Input | KeepAliveOptions | undefined
  /**
   * TCP_USER_TIMEOUT: how long what was sent may stay unacknowledged before the connection fails: reads and a
   * waiting write with `TimeoutError` (ETIMEDOUT). Counts while data is in flight to a peer that does not
   * answer, and while a peer that takes nothing (a stopped process, or one that does not read) holds a write
   * back: it also ends connections to peers that stop reading for that long. With `keepAlive`, it also
   * bounds how long unanswered probes go on (Linux's rule: the first probe past it ends the connection).
   *
   * Whole milliseconds from 1 to 2^31 - 1 (else EINVAL). Default: none (Linux gives up on unacknowledged
   * data after about 15 minutes). Linux only: elsewhere `connect` and `listen` fail with `OSError` ENOTSUP
   * before they touch the OS, on both layers. Set with setsockopt through koffi, as `receiveBufferSize`.
   */
  readonly userTimeout?: Duration.Input | undefined
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
 * TCP keepalive's three times, for `SocketSettings.keepAlive`. Each left out is the system's: Linux's are 2
 * hours, 75 seconds and 9 probes, except that Node sets an interval of 1 second and 10 probes whenever an
 * `idle` time is given. The kernel counts whole seconds.
 *
 * @since 0.2.0
 * @category models
 */
export interface KeepAliveOptions {
  /** TCP_KEEPIDLE: how long the peer may be silent before the first probe. Whole seconds from 1 to 32767. */
  readonly idle?: Duration.Input | undefined
  /** TCP_KEEPINTVL: the time between unanswered probes. Whole seconds from 1 to 32767. */
  readonly interval?: Duration.Input | undefined
  /** TCP_KEEPCNT: the unanswered probes after which the connection fails. A whole number from 1 to 127. */
  readonly count?: number | undefined
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
   * As `listen`'s: a connection with no traffic either way for this long fails its reads with `TimeoutError`
   * (ETIMEDOUT, "idle for 30s"), and a write waiting for a peer that does not read, and is closed. Time spent
   * waiting for our own consumer, with the peer's bytes buffered, does not count. Default: none.
   */
  readonly idleTimeout?: Duration.Input | undefined
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
