// A listening socket on the fake network: it takes arriving connections
// (or resets those past `maxConnections`), hands them to `accept` or to a
// running `serve`, watches accepted ends (deadPeers.ts), and shuts down: it
// stops accepting at once, lets handlers finish within the grace period,
// then interrupts them and closes every connection it accepted.
//
// TLS: an arriving end is handed out once its handshake is done (a fiber in the
// listener's scope, tls.ts), as on Node: a failed handshake fails a waiting
// `accept`, or is logged with the connection's id and peer. The PROXY protocol
// (proxy.ts) is a stage before it in the same fiber, with the same rules.
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberSet from "effect/FiberSet"
import * as Scope from "effect/Scope"
import type { Address } from "../../Address.ts"
import * as Addresses from "../../Address.ts"
import type { Connection } from "../../Connection.ts"
import * as OSError from "../../OSError.ts"
import type { ProxyHeaderError } from "../../ProxyProtocol.ts"
import type { ListenOptions, Server, ServerStats } from "../../Tcp.ts"
import * as Errors from "../errors.ts"
import * as Logs from "../logs.ts"
import type * as ProxyOptions from "../proxy/options.ts"
import * as Settings from "../settings.ts"
import * as TlsOptions from "../tls/options.ts"
import { watch } from "./deadPeers.ts"
import { closeEffect, type Endpoint, shut, toConnection } from "./endpoint.ts"
import { addressOf, allocatePort, isInvalidHost, notFound, portTaken, resolveHost } from "./hosts.ts"
import type { Network } from "./network.ts"
import * as FakeProxy from "./proxy.ts"
import * as FakeTls from "./tls.ts"
import * as Unix from "./unix.ts"
import { Signal, waitChange } from "./wire.ts"

/** `listening`: takes connections; `draining`: refuses new ones while handlers finish; `closed`: shut down. */
export type Phase = "listening" | "draining" | "closed"

/** What `accept` fails with: the OS's errors, and one connection's before it was handed out. */
type AcceptFailure = OSError.AcceptError | ProxyHeaderError

export class Listener extends Signal {
  phase: Phase = "listening"
  readonly address: Address
  readonly options: Settings.Listen
  /** Accepted ends waiting for `accept` or `serve`. */
  readonly pending: Array<Endpoint> = []
  /** Every accepted end still open, wherever it is owned: closed when the server shuts down. */
  readonly live = new Set<Endpoint>()
  /** The running `serve` calls: each takes connections as they arrive, in turn. */
  readonly serving: Array<(endpoint: Endpoint) => void> = []
  turn = 0
  /** Where handlers and idle watchdogs run: they outlive the listening socket by the grace period. */
  readonly scope: Scope.Closeable
  readonly handlers: FiberSet.FiberSet<unknown, unknown>
  accepted = 0
  rejected = 0
  failed = 0
  readonly tls: TlsOptions.Server | undefined
  /** `accept` calls waiting now, and the failed handshakes and PROXY headers handed to them. */
  accepting = 0
  readonly failures: Array<AcceptFailure> = []
  constructor(
    address: Address,
    options: Settings.Listen,
    scope: Scope.Closeable,
    handlers: FiberSet.FiberSet<unknown, unknown>,
    tls: TlsOptions.Server | undefined
  ) {
    super()
    this.address = address
    this.options = options
    this.scope = scope
    this.handlers = handlers
    this.tls = tls
  }
}

/**
 * The listener takes a new connection: a running `serve` gets it at once, or it waits for
 * `accept`. Past `maxConnections` it is reset at once (an RST, which a client cannot mistake
 * for a served connection that ended) and counted as rejected, not accepted.
 */
export const arrive = (network: Network, listener: Listener, endpoint: Endpoint, now: number): Effect.Effect<void> => {
  const { idleTimeoutMillis, maxConnections } = listener.options
  if (maxConnections !== undefined && listener.live.size >= maxConnections) {
    listener.rejected++
    shut(network, endpoint, "reset", now)
    return Effect.void
  }
  listener.accepted++
  listener.live.add(endpoint)
  endpoint.onClose.push(() => {
    listener.live.delete(endpoint)
    listener.bump()
  })
  const watching = watch(network, endpoint, idleTimeoutMillis)
  const watched = watching === undefined ? Effect.void : Effect.asVoid(Effect.forkIn(watching, listener.scope))
  if (listener.tls === undefined && listener.options.proxy === undefined) {
    deliver(listener, endpoint)
    return watched
  }
  // the idle timeout starts once the header and handshake are done (they have timeouts of their own), as on Node
  const prepared = Effect.flatMap(
    prepare(network, listener, endpoint),
    (delivered) => delivered ? watched : Effect.void
  )
  return Effect.asVoid(Effect.forkIn(prepared, listener.scope))
}

/** A connection ready to be handed out: a running `serve` takes it, or it waits for `accept`. */
const deliver = (listener: Listener, endpoint: Endpoint): void => {
  if (listener.serving.length > 0) {
    listener.serving[listener.turn++ % listener.serving.length]!(endpoint)
  } else {
    listener.pending.push(endpoint)
    listener.bump()
  }
}

/** A stage's failure: that connection's error, how a server logs it, and the peer it names. */
interface Failed {
  readonly error: AcceptFailure
  readonly log: (error: AcceptFailure, connection: Logs.Failed) => Effect.Effect<void>
  readonly peer: Address
}

/** The PROXY header, read first on the wire; a failed one is that connection's error. */
const header = (network: Network, endpoint: Endpoint, proxy: ProxyOptions.Resolved): Effect.Effect<void, Failed> =>
  FakeProxy.readHeader(network, endpoint, proxy).pipe(
    Effect.map((info) => {
      endpoint.proxy = info
    }),
    Effect.mapError((error): Failed => ({ error, log: Logs.proxyHeaderFailure, peer: endpoint.remote }))
  )

/** The TLS handshake; a failed one is that connection's error, logged with the client behind a proxy. */
const handshake = (network: Network, endpoint: Endpoint, tls: TlsOptions.Server): Effect.Effect<void, Failed> =>
  FakeTls.secure(network, endpoint, tls, OSError.tagsOf.accept).pipe(
    Effect.map((connection) => {
      endpoint.connection = connection
    }),
    Effect.mapError((error): Failed => ({
      error: error as OSError.AcceptError,
      log: (error, connection) => Logs.handshakeFailure(error as OSError.AcceptError, connection),
      peer: endpoint.peer
    }))
  )

/** The PROXY header, then the TLS handshake, then the connection is handed out (`true`); a failure is its error. */
const prepare = (network: Network, listener: Listener, endpoint: Endpoint): Effect.Effect<boolean> => {
  const { options: { proxy }, tls } = listener
  return Effect.andThen(
    proxy === undefined ? Effect.void : header(network, endpoint, proxy),
    tls === undefined ? Effect.void : handshake(network, endpoint, tls)
  ).pipe(
    Effect.matchEffect({
      onSuccess: () =>
        Effect.sync(() => {
          if (listener.phase !== "listening") return false
          deliver(listener, endpoint)
          return true
        }),
      onFailure: ({ error, log, peer }) => {
        if (listener.phase !== "listening") return Effect.succeed(false)
        listener.failed++
        if (listener.accepting > listener.failures.length) {
          listener.failures.push(error)
          listener.bump()
          return Effect.succeed(false)
        }
        return Effect.as(log(error, { connectionId: endpoint.id, peer: Addresses.format(peer) }), false)
      }
    })
  )
}

/** Waits until the listener has a connection queued (`true`), or stopped accepting (`false`). */
const awaitPending = (listener: Listener): Effect.Effect<boolean> =>
  Effect.gen(function*() {
    while (true) {
      if (listener.phase !== "listening") return false
      if (listener.pending.length > 0 || listener.failures.length > 0) return true
      yield* waitChange(listener, listener.version, 0, undefined)
    }
  })

const makeAccept = (network: Network, listener: Listener): Server["accept"] =>
  Effect.uninterruptibleMask((restore) =>
    Effect.gen(function*() {
      while (true) {
        listener.accepting++
        const ready = yield* Effect.ensuring(
          restore(awaitPending(listener)),
          Effect.sync(() => listener.accepting--)
        )
        if (!ready) return yield* Effect.fail(Errors.serverClosed(listener.address))
        const failure = listener.failures.shift()
        if (failure !== undefined) return yield* Effect.fail(failure)
        const endpoint = listener.pending.shift()
        if (endpoint === undefined) continue
        yield* Effect.addFinalizer((exit) => closeEffect(network, endpoint, exit))
        return toConnection(network, endpoint)
      }
    })
  )

/** One connection's handler, in its own scope: what ends it closes the connection; a failure is logged. */
const handle = <E, R>(
  network: Network,
  endpoint: Endpoint,
  handler: (connection: Connection) => Effect.Effect<unknown, E, R>
): Effect.Effect<void, never, Exclude<R, Scope.Scope>> => {
  const connection = toConnection(network, endpoint)
  return Effect.addFinalizer((exit) => closeEffect(network, endpoint, exit)).pipe(
    Effect.andThen(Effect.suspend(() => handler(connection))),
    Effect.scoped,
    Effect.catchCause(Logs.handlerFailure),
    Effect.annotateLogs(Logs.connectionAnnotations(connection))
  )
}

/**
 * Runs `handler` for every connection, as the Node layer does: the connections that came
 * before are all taken at once, when it starts, then each as it arrives, with no Effect
 * between arrival and the handler's fiber, so a shutdown cannot find one unhandled.
 */
const makeServe = (network: Network, listener: Listener): Server["serve"] =>
<E, R>(
  handler: (connection: Connection) => Effect.Effect<unknown, E, R>
) =>
  Effect.suspend(() => {
    let start: ((endpoint: Endpoint) => void) | undefined
    return Effect.flatMap(FiberSet.runtime(listener.handlers)<Exclude<R, Scope.Scope>>(), (run) => {
      if (listener.phase !== "listening") return Effect.interrupt
      start = (endpoint) => {
        run(handle(network, endpoint, handler))
      }
      // In place before the first handler runs: whatever arrives meanwhile (a handler runs at once,
      // and may connect) comes straight here, not to `pending`.
      listener.serving.push(start)
      for (const endpoint of listener.pending.splice(0)) start(endpoint)
      return Effect.never
    }).pipe(
      // Whoever stops serving stops the listener: new connections are refused at once.
      Effect.onInterrupt(() =>
        Effect.andThen(
          Effect.sync(() => {
            const index = start === undefined ? -1 : listener.serving.indexOf(start)
            if (index >= 0) listener.serving.splice(index, 1)
          }),
          stopAccepting(network, listener)
        )
      )
    )
  })

/** Stops accepting at once: new connects are refused, connections not yet taken are closed. */
const stopAccepting = (network: Network, listener: Listener): Effect.Effect<void> =>
  Effect.map(Clock.currentTimeMillis, (now) => {
    if (listener.phase !== "listening") return
    listener.phase = "draining"
    const index = network.listeners.indexOf(listener)
    if (index >= 0) network.listeners.splice(index, 1)
    if (listener.address.family === "Unix") Unix.release(network, listener.address.path, listener)
    listener.bump()
    for (const endpoint of listener.pending.splice(0)) shut(network, endpoint, "close", now)
  })

/** Stops accepting, lets handlers finish within the grace, interrupts the rest, closes every accepted end. */
const shutdown = (network: Network, listener: Listener): Effect.Effect<void> =>
  Effect.gen(function*() {
    yield* stopAccepting(network, listener)
    yield* Effect.timeoutOption(
      Effect.interruptible(FiberSet.awaitEmpty(listener.handlers)),
      listener.options.graceMillis
    )
    yield* Scope.close(listener.scope, Exit.void)
    const later = yield* Clock.currentTimeMillis
    for (const endpoint of listener.live) shut(network, endpoint, "close", later)
    listener.phase = "closed"
  })

const makeServer = (network: Network, listener: Listener): Server => ({
  address: listener.address,
  accept: makeAccept(network, listener),
  serve: makeServe(network, listener),
  stats: Effect.sync((): ServerStats => ({
    active: listener.live.size,
    accepted: listener.accepted,
    rejected: listener.rejected,
    failed: listener.failed
  }))
})

/** Where the listener binds: a port (a free one for 0) on its host, or a Unix socket's path. */
const bindAddress = (network: Network, request: Settings.Listen, host: string): Address | OSError.ListenError => {
  const path = request.path
  if (path !== undefined) return Unix.claim(network, path) ?? { family: "Unix", path }
  if (portTaken(network, { host, ipv6Only: request.ipv6Only }, request.port, request.reusePort)) {
    return Errors.listen("EADDRINUSE", "listen", request.where)
  }
  return addressOf(host, request.port === 0 ? allocatePort(network) : request.port)
}

export const makeListen = (network: Network) =>
  Effect.fn("Tcp.listen")(function*(options: ListenOptions = {}) {
    const request = yield* Settings.listen(options)
    const asked = request.host
    if (request.path === undefined && isInvalidHost(asked)) return yield* Effect.fail(notFound(asked))
    const tls = options.tls === undefined ? undefined : yield* TlsOptions.server(options.tls, asked, request.port)
    const host = resolveHost(asked)
    const listener = yield* Effect.acquireRelease(
      Effect.gen(function*() {
        const address = bindAddress(network, request, host)
        if (!("family" in address)) return yield* Effect.fail(address)
        const scope = yield* Scope.make()
        const handlers = yield* FiberSet.make<unknown, unknown>().pipe(Scope.provide(scope))
        const listener = new Listener(address, request, scope, handlers, tls)
        if (address.family === "Unix") Unix.register(network, address.path, listener, request.permissions)
        else network.listeners.push(listener)
        return listener
      }),
      (listener) => shutdown(network, listener)
    )
    return makeServer(network, listener)
  })
