// `Tcp.listen` on node:net: one `NodeListener` object per listening socket, in
// one of four phases, owning every socket it accepted until that socket closes.
//
//   binding ──► listening ──► stopped ──► closed
//
// binding: `listen()` has not answered yet. listening: connections are taken,
// by a running `serve` at once, or queued for `accept`. stopped: the listening
// socket is closing, new connections are refused, handlers drain within the
// grace period. closed: Node's server handle is gone.
//
// TLS: an accepted socket is handed out once its handshake is done (tls.ts);
// until then it is live (counted, closed at shutdown) but in no queue. A failed
// handshake is that connection's error: a waiting `accept` fails with it,
// otherwise it is logged with the connection's id and peer. The PROXY protocol
// (proxy.ts) is a stage before it, with the same rules: the header is read off
// the socket, then the handshake starts or the connection is handed out.
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as References from "effect/References"
import type * as Scope from "effect/Scope"
import * as Net from "node:net"
import type { Address, UnixAddress } from "../../Address.ts"
import { format as formatAddress } from "../../Address.ts"
import type { Connection } from "../../Connection.ts"
import * as OSError from "../../OSError.ts"
import type { ProxyHeaderError, ProxyInfo } from "../../ProxyProtocol.ts"
import type { ListenOptions, Server, ServerStats } from "../../Tcp.ts"
import * as Descriptors from "../descriptors.ts"
import * as Errors from "../errors.ts"
import { nextConnectionId } from "../ids.ts"
import * as Logs from "../logs.ts"
import type * as ProxyOptions from "../proxy/options.ts"
import * as Settings from "../settings.ts"
import * as TlsOptions from "../tls/options.ts"
import * as Closing from "./closing.ts"
import { NodeConnection } from "./connection.ts"
import { remove } from "./copy.ts"
import * as DeadPeers from "./deadPeers.ts"
import { IdleSweep } from "./idle.ts"
import * as NodeProxy from "./proxy.ts"
import * as Socket from "./socket.ts"
import * as NodeTls from "./tls.ts"
import * as Unix from "./unix.ts"

type Phase = "binding" | "listening" | "stopped" | "closed"

const addressInfo = (server: Net.Server): [string, number, string] => {
  const bound = server.address() as Net.AddressInfo
  return [bound.address, bound.port, bound.family]
}

/** What `accept` fails with: the OS's errors, and one connection's before it was handed out. */
type AcceptFailure = OSError.AcceptError | ProxyHeaderError

interface AcceptWaiter {
  readonly deliver: (socket: Net.Socket) => void
  readonly fail: (error: AcceptFailure) => void
  readonly stopped: () => void
}

export class NodeListener {
  phase: Phase = "binding"
  address: Address
  accepted = 0
  rejected = 0
  failed = 0
  readonly options: Settings.Listen
  readonly server: Net.Server
  /** Every socket accepted and not yet closed, wherever it is owned: closed at shutdown. */
  readonly live = new Set<Net.Socket>()
  /** Accepted, waiting for `accept` or `serve`. */
  readonly pending: Array<Net.Socket> = []
  /** The fibers of running handlers (`serve`): interrupted once the grace period is over. */
  readonly handling = new Set<Fiber.Fiber<unknown, unknown>>()
  readonly idle: IdleSweep | undefined
  /** Connections beyond this are reset: `maxConnections`, or what the open-files limit leaves room for. */
  readonly cap: number | undefined
  readonly descriptors: Descriptors.Budget | undefined
  /** A Unix listener's addresses, shared by every connection it accepts. */
  unixEnds: Unix.Ends | undefined = undefined
  readonly tls: TlsOptions.Server | undefined
  /** TLS sockets whose handshake is done, until a connection takes them. */
  private readonly secured = new WeakMap<Net.Socket, NodeTls.Secured>()
  /** What the PROXY header of each socket said (its TLS socket's too), until a connection takes it. */
  private readonly proxied = new WeakMap<Net.Socket, ProxyInfo>()
  private waiters: Array<AcceptWaiter> = []
  /** The running `serve` calls: each takes connections as they are accepted, in turn. */
  private readonly serving: Array<(socket: Net.Socket) => void> = []
  private turn = 0
  /** Shutdown's waits: the last handler finished; the last socket closed. */
  private onIdle: (() => void) | undefined = undefined
  private onDrained: (() => void) | undefined = undefined
  private readonly runFork: (effect: Effect.Effect<void>) => void
  private droppedUnlogged = 0
  private lastDropLog = 0

  constructor(options: Settings.Listen, context: Context.Context<never>, tls?: TlsOptions.Server | undefined) {
    this.options = options
    this.tls = tls
    this.runFork = Effect.runForkWith(context)
    this.address = options.path !== undefined
      ? Unix.address(options.path)
      : { host: options.host, port: options.port, family: Net.isIPv6(options.host) ? "IPv6" : "IPv4" }
    this.server = Net.createServer({
      allowHalfOpen: true,
      pauseOnConnect: true,
      highWaterMark: options.settings.writeBufferSize
    })
    const descriptors = Descriptors.budget()
    const max = options.maxConnections
    this.descriptors = descriptors
    this.cap = descriptors === undefined || (max !== undefined && max <= descriptors.connections)
      ? max
      : descriptors.connections
    this.idle = options.idleTimeoutMillis === undefined ? undefined : new IdleSweep(
      options.idleTimeoutMillis,
      () => Array.from(this.live, Socket.ownerOfSocket)
    )
    const forget = this.forget
    this.onUnclaimedClose = function(this: Net.Socket) {
      forget(this)
    }
    this.server.on("connection", this.onConnection)
    this.server.on("error", this.onError)
    this.server.on("close", this.onClose)
  }

  // --- events ----------------------------------------------------------------

  private readonly onConnection = (socket: Net.Socket): void => {
    if (this.phase !== "listening") return void socket.on("error", Socket.ignore).destroy()
    // Node caches the addresses on first read: read them now, before a reset can take them from the kernel.
    // (A peer that reset before accept() returned is already unknown: its address reads as unknown:0.)
    Socket.rememberPeer(socket)
    if (this.cap !== undefined && this.live.size >= this.cap) return this.reject(socket)
    // keepalive and TCP_USER_TIMEOUT are TCP's: a Unix socket has neither
    const failed = Socket.setBufferSizes(socket, this.options.settings) ??
      (this.options.path === undefined ? DeadPeers.apply(socket, this.options.settings) : undefined)
    if (failed !== undefined) {
      Closing.reset(socket.on("error", Socket.ignore))
      return this.acceptFailed(Errors.accept(failed.code, this.address, failed.detail))
    }
    this.accepted++
    this.live.add(socket)
    if (this.options.proxy !== undefined) return this.readProxyHeader(socket, this.options.proxy)
    if (this.tls !== undefined) return this.handshake(socket, this.tls)
    this.deliver(socket)
  }

  /** A connection ready to be handed out: a running `serve` takes it, or a waiting `accept`, or it waits. */
  private deliver(socket: Net.Socket): void {
    // A running `serve` takes it at once (several take turns): no Effect between accept and handler.
    const serving = this.serving
    if (serving.length > 0) return serving[this.turn++ % serving.length](socket)
    socket.on("error", Socket.ignore)
    socket.on("close", this.onUnclaimedClose)
    const waiter = this.waiters.shift()
    if (waiter !== undefined) waiter.deliver(socket)
    else this.pending.push(socket)
  }

  /**
   * One connection's failure before it was handed out: a waiting `accept` fails with it, otherwise it is
   * logged (`log`, with the connection's id and peer). Once the server stopped accepting, nobody hears of it.
   */
  private failedBeforeHandout(
    error: AcceptFailure,
    log: (connection: Logs.Failed) => Effect.Effect<void>,
    connectionId: number,
    peer: Address
  ): void {
    if (this.phase !== "listening") return
    this.failed++
    const waiter = this.waiters.shift()
    if (waiter !== undefined) return waiter.fail(error)
    this.runFork(log({ connectionId, peer: formatAddress(peer) }))
  }

  /** TLS: the connection is handed out once its handshake is done; a failed one is its error. */
  private handshake(raw: Net.Socket, tls: TlsOptions.Server): void {
    raw.on("close", this.onUnclaimedClose)
    const id = NodeTls.newId()
    const proxy = this.proxied.get(raw)
    const client = proxy?.source
    NodeTls.handshake(raw, tls, this.options.settings, OSError.tagsOf.accept, id, (outcome) => {
      if (!("socket" in outcome)) {
        const log = (connection: Logs.Failed) => Logs.handshakeFailure(outcome, connection)
        return this.failedBeforeHandout(outcome as OSError.AcceptError, log, id, client ?? NodeProxy.peerOf(raw))
      }
      if (this.phase !== "listening") return void outcome.socket.destroy()
      this.secured.set(outcome.socket, outcome)
      if (proxy !== undefined) this.proxied.set(outcome.socket, proxy)
      this.deliver(outcome.socket)
    }, client)
  }

  /** The PROXY protocol: the header first, then the TLS handshake or the hand-out; a failed header is its error. */
  private readProxyHeader(raw: Net.Socket, proxy: ProxyOptions.Resolved): void {
    raw.on("close", this.onUnclaimedClose)
    // A peer that reset before accept() returned has no address left to trust, nor a header to read (HAProxy's
    // plain health check does this): not a client's failure, nothing to report.
    if (raw.remoteAddress === undefined) return void raw.on("error", Socket.ignore).destroy()
    NodeProxy.readHeader(raw, proxy, (outcome) => {
      if (!("version" in outcome)) {
        const log = (connection: Logs.Failed) => Logs.proxyHeaderFailure(outcome, connection)
        return this.failedBeforeHandout(outcome, log, nextConnectionId(), NodeProxy.peerOf(raw))
      }
      raw.off("close", this.onUnclaimedClose)
      if (this.phase !== "listening") return void raw.destroy()
      this.proxied.set(raw, outcome)
      if (this.tls !== undefined) return this.handshake(raw, this.tls)
      this.deliver(raw)
    })
  }

  private readonly onError = (cause: Error): void => {
    if (this.phase === "binding") return // `bind` reports it
    this.acceptFailed(Errors.fromNode("accept", cause, this.address))
  }

  /** A waiting `accept` fails with it; with none waiting (or for `serve`) it is logged and the server goes on. */
  private acceptFailed(error: OSError.AcceptError): void {
    const waiter = this.waiters.shift()
    if (waiter !== undefined) waiter.fail(error)
    else this.runFork(Logs.acceptFailure(error, formatAddress(this.address)))
  }

  private readonly onClose = (): void => {
    this.phase = "closed"
    this.drained()
  }

  /** One 'close' listener for every unclaimed socket (Node calls it with the socket as `this`). */
  private readonly onUnclaimedClose: (this: Net.Socket) => void

  /** Over the cap: a reset, which the client cannot mistake for a connection served and closed at once. */
  private reject(socket: Net.Socket): void {
    this.rejected++
    Closing.reset(socket.on("error", Socket.ignore))
    const descriptors = this.descriptors
    if (descriptors === undefined || this.live.size < descriptors.connections) return
    // Turned away for want of descriptors: logged as the EMFILE it avoids, at most once a second.
    this.droppedUnlogged++
    const now = Date.now()
    if (now - this.lastDropLog < 1_000) return
    this.lastDropLog = now
    const detail =
      `${this.droppedUnlogged} connection(s) turned away: ${this.cap} fit in the limit of ${descriptors.limit} open files`
    this.droppedUnlogged = 0
    this.runFork(Logs.acceptFailure(Errors.accept("EMFILE", this.address, detail), formatAddress(this.address)))
  }

  /** A socket closed: it is no longer the listener's. */
  readonly forget = (socket: Net.Socket): void => {
    this.live.delete(socket)
    remove(this.pending, socket)
    this.drained()
  }

  private drained(): void {
    if (this.live.size === 0 && this.onDrained !== undefined) this.onDrained()
  }

  /** Wraps an accepted socket: the connection takes over its listeners (one of each a socket). */
  wrap(socket: Net.Socket): NodeConnection {
    socket.off("error", Socket.ignore)
    socket.off("close", this.onUnclaimedClose)
    const secured = this.secured.get(socket)
    const proxy = this.proxied.get(socket)
    return secured === undefined
      ? new NodeConnection(socket, this.options.settings, this.idle, this.forget, this.unixEnds, undefined, proxy)
      : NodeTls.connectionOf(secured, this.options.settings, this.idle, this.forget, proxy)
  }

  // --- binding and stopping --------------------------------------------------

  /** Binds, on a port or a path (where a stale socket file is replaced: see unix.ts). */
  bind(): Effect.Effect<Address, OSError.ListenError> {
    const path = this.options.path
    return path === undefined
      ? Effect.mapError(this.bindOnce, (cause) => Errors.fromNode("listen", cause, this.options.where))
      : Unix.bind(path, this.bindOnce)
  }

  /** One `listen` of Node's server: the bound address, or Node's error as it came. */
  private readonly bindOnce: Effect.Effect<Address, unknown> = Effect.callback((resume) => {
    const { backlog, host, ipv6Only, path, permissions, port, reusePort } = this.options
    const server = this.server
    const cleanup = () => {
      server.off("listening", onListening)
      server.off("error", onListenError)
    }
    const onListening = () => {
      cleanup()
      // the file's mode before anything is accepted: no connection is taken before this turn ends
      const failed = path === undefined ? undefined : Unix.setPermissions(path, permissions)
      if (failed !== undefined) {
        server.close()
        return resume(Effect.fail(failed))
      }
      this.phase = "listening"
      this.address = path !== undefined ? this.address : Socket.toAddress(...addressInfo(server))
      if (path !== undefined) this.unixEnds = Unix.serverEnds(this.address as UnixAddress)
      resume(Effect.succeed(this.address))
    }
    const onListenError = (cause: Error) => {
      cleanup()
      resume(Effect.fail(cause))
    }
    server.on("listening", onListening)
    server.on("error", onListenError)
    server.listen(
      path !== undefined
        ? { path, backlog }
        : { host, port, backlog, ...(reusePort ? { reusePort: true } : {}), ...(ipv6Only ? { ipv6Only: true } : {}) }
    )
    return Effect.sync(() => {
      cleanup()
      // Interrupted while a host name was being looked up: close it if it starts listening anyway.
      if (!server.listening) server.once("listening", () => server.close())
    })
  })

  /** Stops accepting at once: the listening socket closes, connections not yet taken are closed. */
  stopAccepting(): void {
    if (this.phase === "stopped" || this.phase === "closed") return
    this.phase = "stopped"
    // ('close' follows once every connection is gone, also when never listening.)
    this.server.close()
    const stopped = this.waiters
    this.waiters = []
    for (const waiter of stopped) waiter.stopped()
    for (const socket of this.pending.splice(0)) socket.destroy()
  }

  /** The scope's finalizer: stop, grace for handlers, interrupt the rest, close every socket, release the handle. */
  readonly shutdown: Effect.Effect<void> = Effect.suspend(() => {
    this.stopAccepting()
    return this.graceForHandlers.pipe(
      Effect.andThen(Effect.suspend(() => Fiber.interruptAll(Array.from(this.handling)))),
      Effect.andThen(this.closeEverySocket),
      Effect.ensuring(Effect.sync(() => {
        this.idle?.stop()
        const server = this.server
        server.off("connection", this.onConnection)
        server.off("close", this.onClose)
        server.off("error", this.onError)
        server.on("error", Socket.ignore)
      }))
    )
  })

  /** Running handlers may finish within the grace period. */
  private readonly graceForHandlers: Effect.Effect<void> = Effect.callback((resume) => {
    if (this.handling.size === 0) return resume(Effect.void)
    const timer = setTimeout(() => resume(Effect.void), this.options.graceMillis)
    this.onIdle = () => {
      clearTimeout(timer)
      resume(Effect.void)
    }
    return Effect.sync(() => clearTimeout(timer))
  })

  /** Every socket still open (accepted but unclaimed, or owned elsewhere) is closed, and the handle released. */
  private readonly closeEverySocket: Effect.Effect<void> = Effect.callback((resume) => {
    // Node emits the server's 'close' before libuv has released its handle; two turns of the event loop
    // later the handle is gone whichever phase closed it.
    const released = (): void => {
      setImmediate(() => setImmediate(() => resume(Effect.void)))
    }
    for (const socket of this.live) socket.destroy()
    if (this.live.size === 0 && this.phase === "closed") return released()
    this.onDrained = () => {
      if (this.live.size === 0 && this.phase === "closed") released()
    }
  })

  // --- taking connections ----------------------------------------------------

  /** Waits for the next connection and hands it to `use` synchronously, so it is owned before anything can interrupt. */
  private take<A>(use: (socket: Net.Socket) => A): Effect.Effect<A, AcceptFailure> {
    return Effect.callback<A, AcceptFailure>((resume) => {
      const socket = this.pending.shift()
      if (socket !== undefined) return resume(Effect.succeed(use(socket)))
      const closed = Effect.fail(Errors.serverClosed(this.address))
      if (this.phase !== "listening") return resume(closed)
      const waiter: AcceptWaiter = {
        deliver: (socket) => resume(Effect.succeed(use(socket))),
        fail: (error) => resume(Effect.fail(error)),
        stopped: () => resume(closed)
      }
      this.waiters.push(waiter)
      return Effect.sync(() => remove(this.waiters, waiter))
    })
  }

  readonly accept: Effect.Effect<Connection, AcceptFailure, Scope.Scope> = Effect.suspend(() => {
    let connection: NodeConnection | undefined
    return Effect.addFinalizer((exit) => connection === undefined ? Effect.void : connection.close(exit)).pipe(
      Effect.andThen(this.take((socket) => connection = this.wrap(socket)))
    )
  })

  /**
   * Each handler runs in a fiber of its own, forked as the connection is accepted, with the connection's log
   * annotations in its context. What ends the fiber closes the socket (its observer): an idle connection holds
   * its socket, one object and the handler's own fiber, nothing more.
   */
  serve<E, R>(handler: (connection: Connection) => Effect.Effect<unknown, E, R>): Effect.Effect<never, never, R> {
    return Effect.suspend(() => {
      // each run of the returned effect serves on its own
      let start: ((socket: Net.Socket) => void) | undefined
      return Effect.flatMap(Effect.context<R>(), (context) => {
        if (this.phase !== "listening") return Effect.interrupt
        start = (socket) => this.handle(socket, handler, context)
        // each connection as it comes, and those that came before, all at once (accept errors are logged)
        this.serving.push(start)
        for (const socket of this.pending.splice(0)) start(socket)
        return Effect.never
      }).pipe(
        // Whoever stops serving stops the listener: new connections are refused at once. (Around the whole
        // of it: an interruption while the handlers of earlier connections start must find it in place.)
        Effect.onInterrupt(() =>
          Effect.sync(() => {
            if (start !== undefined) remove(this.serving, start)
            this.stopAccepting()
          })
        )
      )
    })
  }

  private handle<E, R>(
    socket: Net.Socket,
    handler: (connection: Connection) => Effect.Effect<unknown, E, R>,
    context: Context.Context<R>
  ): void {
    const connection = this.wrap(socket)
    const fiberContext = Context.add(
      context,
      References.CurrentLogAnnotations,
      { ...Context.get(context, References.CurrentLogAnnotations), ...Logs.connectionAnnotations(connection) }
    )
    const fiber = Effect.runForkWith(fiberContext)(handler(connection))
    this.handling.add(fiber)
    fiber.addObserver((exit) => {
      this.handling.delete(fiber)
      connection.shut(Exit.hasInterrupts(exit))
      if (Exit.isFailure(exit)) Effect.runForkWith(fiberContext)(Logs.handlerFailure(exit.cause))
      if (this.handling.size === 0 && this.onIdle !== undefined) this.onIdle()
    })
  }

  readonly stats: Effect.Effect<ServerStats> = Effect.sync(() => ({
    active: this.live.size,
    accepted: this.accepted,
    rejected: this.rejected,
    failed: this.failed
  }))
}

export const listen = Effect.fn("Tcp.listen")(function*(options: ListenOptions | undefined) {
  const resolved = yield* Settings.listen(options)
  const unsupported = Socket.bufferSizesUnsupported(resolved.settings) ??
    (resolved.path === undefined ? DeadPeers.unsupported(resolved.settings) : undefined)
  if (unsupported !== undefined) {
    return yield* Effect.fail(Errors.unsupported("listen", resolved.where, unsupported))
  }
  const tls = options?.tls === undefined
    ? undefined
    : yield* TlsOptions.server(options.tls, resolved.host, resolved.port)
  const listener = new NodeListener(resolved, yield* Effect.context<never>(), tls)
  yield* Effect.addFinalizer(() => listener.shutdown)
  const address = yield* listener.bind()
  const server: Server = {
    address,
    accept: listener.accept,
    serve: (handler) => listener.serve(handler),
    stats: listener.stats
  }
  return server
})
