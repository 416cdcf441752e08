// The in-memory implementation of the Tcp service (issue 4): `Tcp.layerTest`.
//
// The model, per connection (a `Link` between two `Endpoint`s), per direction
// (a `Flow` from a writer to a reader):
//
//   write -> [in flight: segments due at send time + latency] -> [receive buffer] -> stream
//
// A flow holds at most `capacity` bytes (the reader's readLimit) in flight and
// buffered together: a writer suspends while it is full, exactly as a TCP
// sender stops at the receiver's window. Segments (data, FIN, close, RST) are
// delivered in order and lazily: every operation first "settles" the link at
// the Clock's current time, and a fiber that has to wait sleeps on the Clock
// until the next segment is due, or until the link changes. So everything
// runs on the Clock (TestClock drives latency and timeouts in no real time)
// and nothing touches the OS.
//
// Where TCP leaves room, the fake does what the Node layer (node.ts) does, and
// the contract suite (test/contract.ts) holds both to it: closing a scope sends
// a FIN (also on interruption), `reset` an RST; writing after the peer's close
// or reset is EPIPE, reading after a reset ECONNRESET, a read cut short by
// closing one's own end ECONNABORTED; the idle timeout fails reads with
// ETIMEDOUT and closes the connection; a server's shutdown closes every
// connection it accepted once the grace period is over.
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberSet from "effect/FiberSet"
import * as Scope from "effect/Scope"
import * as Sink from "effect/Sink"
import * as Stream from "effect/Stream"
import type { Address } from "../Address.ts"
import * as Addresses from "../Address.ts"
import type { Connection } from "../Connection.ts"
import { copy } from "../Connection.ts"
import type { FakeNetwork, WireEvent } from "../FakeNetwork.ts"
import * as OSError from "../OSError.ts"
import type { SocketOptions } from "../SocketOptions.ts"
import type { ConnectOptions, ListenOptions, Server, ServerStats, SocketSettings, Tcp } from "../Tcp.ts"
import * as Logs from "./logs.ts"

const defaultReadLimit = 64 * 1024
const firstEphemeralPort = 49152
const defaultShutdownGrace = 10_000
// What Linux reports for a fresh loopback socket, so logs look plausible.
const defaultReceiveBufferSize = 131_072
const defaultSendBufferSize = 16_384
const kernelDoubles = process.platform === "linux"

// Connection ids are unique in the process, across fake networks.
let nextConnectionId = 1

type SegmentKind = "data" | "fin" | "close" | "reset"

interface Segment {
  readonly kind: SegmentKind
  readonly bytes: Uint8Array | undefined
  readonly due: number
}

class Flow {
  readonly capacity: number
  readonly inflight: Array<Segment> = []
  inflightBytes = 0
  buffer: Array<Uint8Array> = []
  bufferedBytes = 0
  /** The writer's FIN arrived: the reader ends after draining the buffer. */
  finArrived = false
  /** The writer closed its socket: writing back is a broken pipe. */
  closeArrived = false
  /** The writer reset the connection. */
  resetArrived = false
  /** ... before its FIN: reading fails with ECONNRESET (after a FIN, Node has already ended the stream). */
  resetBeforeEof = false
  /** The reader closed its socket: what arrives is dropped. */
  readerGone = false
  constructor(capacity: number) {
    this.capacity = Math.max(1, capacity)
  }
  get space(): number {
    return this.capacity - this.inflightBytes - this.bufferedBytes
  }
}

/** Anything fibers wait on: a version bumped on every change, and the waiters to wake. */
class Signal {
  version = 0
  readonly waiters = new Set<() => void>()
  bump(): void {
    this.version++
    const waiters = [...this.waiters]
    this.waiters.clear()
    for (const wake of waiters) wake()
  }
}

class Link extends Signal {
  crossed = 0
  lastActivity: number
  resetAfter: number | undefined
  ends: readonly [Endpoint, Endpoint] | undefined = undefined
  constructor(now: number, resetAfter: number | undefined) {
    super()
    this.lastActivity = now
    this.resetAfter = resetAfter
  }
}

class Endpoint {
  readonly id: number
  readonly link: Link
  readonly local: Address
  readonly remote: Address
  readonly inbound: Flow
  outbound!: Flow
  peer!: Endpoint
  readonly settings: SocketSettings
  readonly reusePort: boolean
  readonly accepted: boolean
  readonly idleTimeout: number | undefined
  ended = false
  closed = false
  /** Reset by the network (`resetAfter`): writes fail with ECONNRESET. */
  aborted = false
  /** Set once, as in Node: the idle timeout, or a read cut short by closing this end. */
  readError: OSError.ReadError | undefined = undefined
  /** Set when the idle timeout closed this end: what a waiting write fails with. */
  timedOut: OSError.WriteError | undefined = undefined
  bytesRead = 0
  bytesWritten = 0
  readonly onClose: Array<() => void> = []
  connection: Connection | undefined = undefined
  constructor(options: {
    readonly link: Link
    readonly local: Address
    readonly remote: Address
    readonly settings: SocketSettings
    readonly reusePort: boolean
    readonly accepted: boolean
    readonly idleTimeout: number | undefined
  }) {
    this.id = nextConnectionId++
    this.link = options.link
    this.local = options.local
    this.remote = options.remote
    this.settings = options.settings
    this.reusePort = options.reusePort
    this.accepted = options.accepted
    this.idleTimeout = options.idleTimeout
    this.inbound = new Flow(options.settings.readLimit ?? defaultReadLimit)
  }
}

class Listener extends Signal {
  readonly address: Address
  readonly options: ListenOptions
  readonly pending: Array<Endpoint> = []
  /** Every accepted end still open, wherever it is owned: closed when the server shuts down. */
  readonly live = new Set<Endpoint>()
  /** Where handlers and idle watchdogs run. */
  readonly scope: Scope.Scope
  closed = false
  accepted = 0
  rejected = 0
  constructor(address: Address, options: ListenOptions, scope: Scope.Scope) {
    super()
    this.address = address
    this.options = options
    this.scope = scope
  }
}

interface Refusal {
  readonly port: number | undefined
  remaining: number
}

class Network {
  nextPort = firstEphemeralPort
  readonly listeners: Array<Listener> = []
  readonly links = new Set<Link>()
  readonly log: Array<WireEvent> = []
  readonly refusals: Array<Refusal> = []
  resetAfter: number | undefined = undefined
  stalled = false
  splitSize: number | undefined = undefined
  latency = 0
  roundRobin = 0
}

// -----------------------------------------------------------------------------
// addresses
// -----------------------------------------------------------------------------

const familyOf = (host: string): Address["family"] => host.includes(":") ? "IPv6" : "IPv4"

const addressOf = (host: string, port: number): Address => ({ host, port, family: familyOf(host) })

/** Reserved by RFC 6761: never resolves, on any network. */
const isInvalidHost = (host: string): boolean => {
  const name = host.toLowerCase().replace(/\.$/, "")
  return name === "invalid" || name.endsWith(".invalid")
}

const resolveHost = (host: string): string => {
  const name = host.toLowerCase().replace(/^\[(.*)\]$/, "$1")
  return name === "" || name === "localhost" ? "127.0.0.1" : name
}

const hostsOverlap = (a: string, b: string): boolean =>
  a === b || Addresses.isUnspecified(a) || Addresses.isUnspecified(b)

const allocatePort = (network: Network): number => {
  for (let i = 0; i < 65536 - firstEphemeralPort; i++) {
    const port = network.nextPort
    network.nextPort = port >= 65535 ? firstEphemeralPort : port + 1
    if (!network.listeners.some((listener) => listener.address.port === port)) return port
  }
  return network.nextPort
}

// -----------------------------------------------------------------------------
// errors, with the errno of the running OS
// -----------------------------------------------------------------------------

const readError = (code: string, endpoint: Endpoint, detail?: string) =>
  OSError.fromCode(code, { syscall: "read", host: endpoint.remote.host, port: endpoint.remote.port, detail }, {
    allowed: OSError.tagsOf.read
  })

const writeError = (code: string, endpoint: Endpoint, detail?: string) =>
  OSError.fromCode(code, { syscall: "write", host: endpoint.remote.host, port: endpoint.remote.port, detail }, {
    allowed: OSError.tagsOf.write
  })

const seconds = (millis: number): string => `${Number((millis / 1000).toFixed(3))}s`

const connectError = (code: string, host: string, port: number | undefined, detail?: string) =>
  OSError.fromCode(code, { syscall: "connect", host, port, detail }, { allowed: OSError.tagsOf.connect })

const listenError = (code: string, syscall: string, host: string, port: number | undefined) =>
  OSError.fromCode(code, { syscall, host, port }, { allowed: OSError.tagsOf.listen })

// -----------------------------------------------------------------------------
// the wire
// -----------------------------------------------------------------------------

const logEvent = (network: Network, from: Endpoint, kind: WireEvent["kind"], bytes?: Uint8Array): void => {
  network.log.push(
    bytes === undefined
      ? { connection: from.id, from: from.local, to: from.remote, kind }
      : { connection: from.id, from: from.local, to: from.remote, kind, bytes }
  )
}

const send = (network: Network, from: Endpoint, kind: SegmentKind, now: number, bytes?: Uint8Array): void => {
  const flow = from.outbound
  flow.inflight.push({ kind, bytes, due: now + network.latency })
  if (bytes !== undefined) flow.inflightBytes += bytes.length
}

/** Delivers every segment due by `now`, in order; `true` when something moved. */
const settleFlow = (network: Network, link: Link, from: Endpoint, now: number): boolean => {
  const flow = from.outbound
  let moved = false
  while (!network.stalled && flow.inflight.length > 0 && flow.inflight[0]!.due <= now) {
    const segment = flow.inflight.shift()!
    moved = true
    if (segment.due > link.lastActivity) link.lastActivity = segment.due
    switch (segment.kind) {
      case "data": {
        const bytes = segment.bytes!
        flow.inflightBytes -= bytes.length
        if (!flow.readerGone) {
          flow.buffer.push(bytes)
          flow.bufferedBytes += bytes.length
        }
        break
      }
      case "fin":
        flow.finArrived = true
        break
      case "close":
        flow.finArrived = true
        flow.closeArrived = true
        break
      case "reset":
        flow.resetArrived = true
        if (!flow.finArrived) flow.resetBeforeEof = true
        break
    }
    logEvent(network, from, segment.kind, segment.bytes)
  }
  return moved
}

const settle = (network: Network, link: Link, now: number): void => {
  const ends = link.ends
  if (ends === undefined) return
  const a = settleFlow(network, link, ends[0], now)
  const b = settleFlow(network, link, ends[1], now)
  if (a || b) link.bump()
  if (ends[0].closed && ends[1].closed && ends[0].outbound.inflight.length + ends[1].outbound.inflight.length === 0) {
    network.links.delete(link)
  }
}

/** When the next segment on the link is due (never while the network is stalled). */
const nextDue = (network: Network, link: Link): number | undefined => {
  const ends = link.ends
  if (network.stalled || ends === undefined) return undefined
  let due: number | undefined = undefined
  for (const end of ends) {
    const head = end.outbound.inflight[0]
    if (head !== undefined && (due === undefined || head.due < due)) due = head.due
  }
  return due
}

/** Suspends until `signal` changes after `version`, or until `deadline` on the Clock. */
const waitChange = (
  signal: Signal,
  version: number,
  now: number,
  deadline: number | undefined
): Effect.Effect<void> => {
  const changed = Effect.callback<void>((resume) => {
    if (signal.version !== version) return resume(Effect.void)
    const wake = () => resume(Effect.void)
    signal.waiters.add(wake)
    return Effect.sync(() => {
      signal.waiters.delete(wake)
    })
  })
  return deadline === undefined ? changed : Effect.asVoid(Effect.timeoutOption(changed, Math.max(0, deadline - now)))
}

/** Closes one end: `close` is a FIN (and a broken pipe for whoever writes back), `reset` an RST. */
const shut = (network: Network, endpoint: Endpoint, kind: "close" | "reset", now: number): void => {
  if (endpoint.closed) return
  const link = endpoint.link
  settle(network, link, now)
  endpoint.closed = true
  // What arrived is still read (as from Node's queue); a read waiting for more is cut short.
  endpoint.inbound.readerGone = true
  if (!endpoint.inbound.finArrived && endpoint.readError === undefined) {
    endpoint.readError = readError("ECONNABORTED", endpoint, "connection closed locally")
  }
  send(network, endpoint, kind, now)
  settle(network, link, now)
  link.bump()
  for (const callback of endpoint.onClose.splice(0)) callback()
}

const shutEffect = (network: Network, endpoint: Endpoint, kind: "close" | "reset") =>
  Effect.flatMap(Clock.currentTimeMillis, (now) => Effect.sync(() => shut(network, endpoint, kind, now)))

/** The network resets the connection both ways (`resetAfter`). */
const abortLink = (network: Network, link: Link, now: number): void => {
  link.resetAfter = undefined
  const ends = link.ends
  if (ends === undefined) return
  for (const end of ends) {
    if (end.closed || end.aborted) continue
    end.aborted = true
    send(network, end, "reset", now)
  }
  settle(network, link, now)
  link.bump()
}

// -----------------------------------------------------------------------------
// connections
// -----------------------------------------------------------------------------

const writeFailure = (endpoint: Endpoint) => {
  if (endpoint.timedOut !== undefined) return endpoint.timedOut
  if (endpoint.closed) return writeError("EPIPE", endpoint, "connection closed")
  if (endpoint.ended) return writeError("EPIPE", endpoint, "write after end")
  if (endpoint.inbound.resetArrived || endpoint.inbound.closeArrived) return writeError("EPIPE", endpoint)
  // reset by the network, its RST to us still in flight
  if (endpoint.aborted) return writeError("ECONNRESET", endpoint)
  return undefined
}

const makeWrite = (network: Network, endpoint: Endpoint) =>
  Effect.fnUntraced(function*(bytes: Uint8Array) {
    const link = endpoint.link
    let offset = 0
    while (true) {
      const now = yield* Clock.currentTimeMillis
      settle(network, link, now)
      const failure = writeFailure(endpoint)
      if (failure !== undefined) return yield* Effect.fail(failure)
      if (bytes.length === 0) return
      const space = endpoint.outbound.space
      if (space <= 0) {
        yield* waitChange(link, link.version, now, nextDue(network, link))
        continue
      }
      let size = Math.min(space, bytes.length - offset, network.splitSize ?? Infinity)
      const allowed = link.resetAfter === undefined ? Infinity : link.resetAfter - link.crossed
      const trips = size >= allowed
      if (trips) size = allowed
      if (size > 0) {
        send(network, endpoint, "data", now, bytes.slice(offset, offset + size))
        offset += size
        endpoint.bytesWritten += size
        link.crossed += size
        link.lastActivity = now
      }
      if (trips) abortLink(network, link, now)
      settle(network, link, now)
      link.bump()
      if (trips) return yield* Effect.fail(writeError("ECONNRESET", endpoint))
      if (offset >= bytes.length) return
    }
  })

const makePull = (network: Network, endpoint: Endpoint) =>
  Effect.gen(function*() {
    const link = endpoint.link
    const inbound = endpoint.inbound
    while (true) {
      const now = yield* Clock.currentTimeMillis
      settle(network, link, now)
      if (inbound.buffer.length > 0) {
        const chunks = inbound.buffer as unknown as readonly [Uint8Array, ...Array<Uint8Array>]
        endpoint.bytesRead += inbound.bufferedBytes
        inbound.buffer = []
        inbound.bufferedBytes = 0
        link.bump()
        return chunks
      }
      if (endpoint.readError !== undefined) return yield* Effect.fail(endpoint.readError)
      if (inbound.resetBeforeEof) return yield* Effect.fail(readError("ECONNRESET", endpoint))
      if (inbound.finArrived) return yield* Cause.done()
      yield* waitChange(link, link.version, now, nextDue(network, link))
    }
  })

const asKernelReports = (size: number) => kernelDoubles ? size * 2 : size

const optionsOf = (endpoint: Endpoint): SocketOptions => {
  const { keepAlive, noDelay, receiveBufferSize, sendBufferSize } = endpoint.settings
  return {
    reuseAddress: endpoint.accepted,
    reusePort: endpoint.reusePort,
    receiveBufferSize: receiveBufferSize === undefined ? defaultReceiveBufferSize : asKernelReports(receiveBufferSize),
    sendBufferSize: sendBufferSize === undefined ? defaultSendBufferSize : asKernelReports(sendBufferSize),
    noDelay: noDelay ?? true,
    keepAlive: keepAlive !== undefined && keepAlive !== false
  }
}

const toConnection = (network: Network, endpoint: Endpoint): Connection => {
  if (endpoint.connection !== undefined) return endpoint.connection
  const write = makeWrite(network, endpoint)
  const pull = makePull(network, endpoint)
  const connection: Connection = {
    id: endpoint.id,
    remoteAddress: endpoint.remote,
    localAddress: endpoint.local,
    stream: Stream.fromPull(Effect.succeed(pull)),
    write,
    writeAll: (chunks) => Effect.forEach(chunks, write, { discard: true }),
    sink: Sink.forEach(write),
    copyTo: (destination) => copy(connection, destination),
    end: Effect.flatMap(Clock.currentTimeMillis, (now) =>
      Effect.suspend(() => {
        if (endpoint.ended) return Effect.void
        if (endpoint.closed) return Effect.fail(writeError("EPIPE", endpoint, "connection closed"))
        endpoint.ended = true
        send(network, endpoint, "fin", now)
        settle(network, endpoint.link, now)
        endpoint.link.bump()
        return Effect.void
      })),
    reset: shutEffect(network, endpoint, "reset"),
    options: Effect.sync(() => optionsOf(endpoint)),
    bytesRead: Effect.sync(() => endpoint.bytesRead),
    bytesWritten: Effect.sync(() => endpoint.bytesWritten)
  }
  endpoint.connection = connection
  return connection
}

// -----------------------------------------------------------------------------
// connect
// -----------------------------------------------------------------------------

const takeRefusal = (network: Network, port: number): boolean => {
  const index = network.refusals.findIndex((refusal) => refusal.port === undefined || refusal.port === port)
  if (index < 0) return false
  const refusal = network.refusals[index]!
  refusal.remaining--
  if (refusal.remaining <= 0) network.refusals.splice(index, 1)
  return true
}

const findListener = (network: Network, host: string, port: number): Listener | undefined => {
  const matches = network.listeners.filter((listener) =>
    listener.address.port === port && hostsOverlap(listener.address.host, host)
  )
  if (matches.length <= 1) return matches[0]
  // SO_REUSEPORT: the kernel spreads connections over the listeners sharing the port.
  return matches[network.roundRobin++ % matches.length]
}

/**
 * The idle timeout of an accepted end, as Node's `socket.setTimeout`: no traffic
 * either way for that long fails its reads with `TimeoutError` and closes it.
 * While its own consumer is behind (the buffer full), silence is not the peer's.
 */
const watchIdle = (network: Network, endpoint: Endpoint, idle: number): Effect.Effect<void> =>
  Effect.gen(function*() {
    const link = endpoint.link
    while (!endpoint.closed) {
      const now = yield* Clock.currentTimeMillis
      settle(network, link, now)
      if (endpoint.closed) return
      // Our reader behind for its own reasons: not idle. Behind because our writes wait for the peer to read: idle.
      if (endpoint.inbound.space <= 0 && endpoint.inbound.bufferedBytes > 0 && endpoint.outbound.space > 0) {
        link.lastActivity = now
      }
      const idleAt = link.lastActivity + idle
      if (now >= idleAt) {
        if (!endpoint.inbound.finArrived && endpoint.readError === undefined) {
          endpoint.readError = readError("ETIMEDOUT", endpoint, `idle for ${seconds(idle)}`)
        }
        endpoint.timedOut = writeError("ETIMEDOUT", endpoint, `idle for ${seconds(idle)}`)
        return shut(network, endpoint, "close", now)
      }
      yield* waitChange(link, link.version, now, idleAt)
    }
  })

/** The listener takes the new connection: queued for `accept`, or closed at once past `maxConnections`. */
const arrive = (network: Network, listener: Listener, endpoint: Endpoint, now: number): Effect.Effect<void> => {
  const max = listener.options.maxConnections
  if (max !== undefined && listener.live.size >= max) {
    listener.rejected++
    shut(network, endpoint, "close", now)
    return Effect.void
  }
  listener.accepted++
  listener.live.add(endpoint)
  endpoint.onClose.push(() => {
    listener.live.delete(endpoint)
    listener.bump()
  })
  listener.pending.push(endpoint)
  listener.bump()
  return endpoint.idleTimeout === undefined
    ? Effect.void
    : Effect.asVoid(Effect.forkIn(watchIdle(network, endpoint, endpoint.idleTimeout), listener.scope))
}

const establish = (
  network: Network,
  listener: Listener,
  options: ConnectOptions,
  host: string,
  now: number
): Effect.Effect<Endpoint> => {
  const port = options.port
  const link = new Link(now, network.resetAfter)
  const sourceHost = options.localAddress !== undefined
    ? resolveHost(options.localAddress)
    : Addresses.isUnspecified(host)
    ? (familyOf(host) === "IPv6" ? "::1" : "127.0.0.1")
    : host
  const clientAddress = addressOf(sourceHost, allocatePort(network))
  const serverAddress = addressOf(Addresses.isUnspecified(host) ? sourceHost : host, port)
  const client = new Endpoint({
    link,
    local: clientAddress,
    remote: serverAddress,
    settings: options,
    reusePort: false,
    accepted: false,
    idleTimeout: undefined
  })
  const { idleTimeout } = listener.options
  const server = new Endpoint({
    link,
    local: serverAddress,
    remote: clientAddress,
    settings: listener.options,
    reusePort: listener.options.reusePort ?? false,
    accepted: true,
    idleTimeout: idleTimeout === undefined ? undefined : Math.max(1, Math.round(Duration.toMillis(idleTimeout)))
  })
  client.peer = server
  server.peer = client
  client.outbound = server.inbound
  server.outbound = client.inbound
  link.ends = [client, server]
  network.links.add(link)
  logEvent(network, client, "connect")
  if (link.resetAfter !== undefined && link.resetAfter <= 0) abortLink(network, link, now)
  return Effect.as(arrive(network, listener, server, now), client)
}

const makeConnect = (network: Network) =>
  Effect.fn("Tcp.connect")(function*(options: ConnectOptions) {
    // Errors name the host as asked, as Node's do; addresses are the resolved ones.
    const host = options.host ?? "127.0.0.1"
    const port = options.port
    if (isInvalidHost(host)) {
      return yield* Effect.fail(
        OSError.fromCode("ENOTFOUND", { syscall: "getaddrinfo", host }, { allowed: OSError.tagsOf.connect })
      )
    }
    const resolved = resolveHost(host)
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      return yield* Effect.fail(connectError("EINVAL", host, port, `port ${port} out of range`))
    }
    const attempt = Effect.gen(function*() {
      if (network.latency > 0) yield* Effect.sleep(network.latency)
      const client = yield* Effect.acquireRelease(
        Effect.flatMap(Clock.currentTimeMillis, (now) =>
          Effect.suspend(() => {
            const listener = takeRefusal(network, port) ? undefined : findListener(network, resolved, port)
            return listener === undefined
              ? Effect.fail(connectError("ECONNREFUSED", host, port))
              : establish(network, listener, options, resolved, now)
          })),
        (client) => shutEffect(network, client, "close")
      )
      return toConnection(network, client)
    })
    if (options.timeout === undefined) return yield* attempt
    const timeout = Duration.toMillis(options.timeout)
    return yield* Effect.timeoutOrElse(attempt, {
      duration: timeout,
      orElse: () => Effect.fail(connectError("ETIMEDOUT", host, port, `connect timed out after ${seconds(timeout)}`))
    })
  })

// -----------------------------------------------------------------------------
// listen
// -----------------------------------------------------------------------------

/** Waits until the listener has a connection queued, or is closed (`false`). */
const awaitPending = (listener: Listener): Effect.Effect<boolean> =>
  Effect.gen(function*() {
    while (true) {
      if (listener.closed) return false
      if (listener.pending.length > 0) return true
      yield* waitChange(listener, listener.version, 0, undefined)
    }
  })

const makeServer = (network: Network, listener: Listener, handlers: FiberSet.FiberSet<unknown, unknown>): Server => {
  const closedError = () =>
    OSError.fromCode("EBADF", {
      syscall: "accept",
      host: listener.address.host,
      port: listener.address.port,
      detail: "server closed"
    }, { allowed: OSError.tagsOf.accept })

  const accept: Server["accept"] = Effect.uninterruptibleMask((restore) =>
    Effect.gen(function*() {
      while (true) {
        if (!(yield* restore(awaitPending(listener)))) return yield* Effect.fail(closedError())
        const endpoint = listener.pending.shift()
        if (endpoint === undefined) continue
        yield* Effect.addFinalizer(() => shutEffect(network, endpoint, "close"))
        return toConnection(network, endpoint)
      }
    })
  )

  const handle = <E, R>(
    endpoint: Endpoint,
    handler: (connection: Connection) => Effect.Effect<unknown, E, R>
  ) =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      yield* Scope.addFinalizer(scope, shutEffect(network, endpoint, "close"))
      const connection = toConnection(network, endpoint)
      yield* FiberSet.run(
        handlers,
        Effect.suspend(() => handler(connection)).pipe(
          Effect.interruptible,
          Scope.provide(scope),
          Effect.onExit((exit) => Scope.close(scope, exit)),
          Effect.catchCause(Logs.handlerFailure),
          Effect.annotateLogs({ connectionId: connection.id, peer: Addresses.format(connection.remoteAddress) })
        )
      )
    })

  const serve = <E, R>(handler: (connection: Connection) => Effect.Effect<unknown, E, R>) =>
    Effect.forever(
      Effect.uninterruptibleMask((restore) =>
        Effect.gen(function*() {
          if (!(yield* restore(awaitPending(listener)))) return yield* Effect.interrupt
          const endpoint = listener.pending.shift()
          if (endpoint !== undefined) yield* handle(endpoint, handler)
        })
      )
    ).pipe(
      // Whoever stops serving stops the listener: new connections are refused at once.
      Effect.onInterrupt(() => stopAccepting(network, listener))
    ) as Effect.Effect<never, never, R>

  return {
    address: listener.address,
    accept,
    serve,
    stats: Effect.sync((): ServerStats => ({
      active: listener.live.size,
      accepted: listener.accepted,
      rejected: listener.rejected
    }))
  }
}

/** Stops accepting at once: new connects are refused, connections not yet taken are closed. */
const stopAccepting = (network: Network, listener: Listener): Effect.Effect<void> =>
  Effect.map(Clock.currentTimeMillis, (now) => {
    if (listener.closed) return
    listener.closed = true
    const index = network.listeners.indexOf(listener)
    if (index >= 0) network.listeners.splice(index, 1)
    listener.bump()
    for (const endpoint of listener.pending.splice(0)) shut(network, endpoint, "close", now)
  })

/** Stops accepting at once, lets handlers finish within the grace, interrupts the rest, closes every accepted end. */
const shutdown = (
  network: Network,
  listener: Listener,
  handlersScope: Scope.Closeable,
  handlers: FiberSet.FiberSet<unknown, unknown>,
  grace: number
) =>
  Effect.gen(function*() {
    yield* stopAccepting(network, listener)
    yield* Effect.timeoutOption(Effect.interruptible(FiberSet.awaitEmpty(handlers)), grace)
    yield* Scope.close(handlersScope, Exit.void)
    const later = yield* Clock.currentTimeMillis
    for (const endpoint of listener.live) shut(network, endpoint, "close", later)
  })

const makeListen = (network: Network) =>
  Effect.fn("Tcp.listen")(function*(options: ListenOptions = {}) {
    const requested = options.host ?? "127.0.0.1"
    if (isInvalidHost(requested)) {
      return yield* Effect.fail(listenError("ENOTFOUND", "getaddrinfo", requested, undefined))
    }
    const host = resolveHost(requested)
    const asked = options.port ?? 0
    if (!Number.isInteger(asked) || asked < 0 || asked > 65535) {
      return yield* Effect.fail(listenError("EINVAL", "listen", host, asked))
    }
    const grace = Duration.toMillis(options.shutdownGrace ?? defaultShutdownGrace)
    const { handlers, listener } = yield* Effect.acquireRelease(
      Effect.gen(function*() {
        const taken = asked !== 0 && network.listeners.some((other) =>
          other.address.port === asked && hostsOverlap(other.address.host, host) &&
          !(other.options.reusePort === true && options.reusePort === true)
        )
        if (taken) return yield* Effect.fail(listenError("EADDRINUSE", "listen", requested, asked))
        const port = asked === 0 ? allocatePort(network) : asked
        // Handlers and idle watchdogs: they outlive the listening socket by the grace period.
        const handlersScope = yield* Scope.make()
        const handlers = yield* FiberSet.make<unknown, unknown>().pipe(Scope.provide(handlersScope))
        const listener = new Listener(addressOf(host, port), options, handlersScope)
        network.listeners.push(listener)
        return { handlers, handlersScope, listener }
      }),
      ({ handlers, handlersScope, listener }) => shutdown(network, listener, handlersScope, handlers, grace)
    )
    return makeServer(network, listener, handlers)
  })

// the fault script
// -----------------------------------------------------------------------------

const makeFakeNetwork = (network: Network): FakeNetwork["Service"] => {
  const settleAll = Effect.flatMap(Clock.currentTimeMillis, (now) =>
    Effect.sync(() => {
      for (const link of network.links) settle(network, link, now)
    }))
  const wakeAll = () => {
    for (const link of network.links) link.bump()
  }
  return {
    refuseNext: (count, port) =>
      Effect.sync(() => {
        if (count > 0) network.refusals.push({ port, remaining: count })
      }),
    resetAfter: (bytes) =>
      Effect.sync(() => {
        network.resetAfter = bytes === undefined ? undefined : Math.max(0, bytes)
      }),
    stall: (stalled) =>
      Effect.andThen(
        Effect.sync(() => {
          network.stalled = stalled
          wakeAll()
        }),
        settleAll
      ),
    splitWrites: (size) =>
      Effect.sync(() => {
        network.splitSize = size === undefined ? undefined : Math.max(1, Math.floor(size))
      }),
    latency: (latency) =>
      Effect.sync(() => {
        network.latency = Duration.toMillis(latency)
      }),
    wireLog: Effect.andThen(settleAll, Effect.sync(() => network.log.slice()))
  }
}

export const make: Effect.Effect<
  { readonly tcp: Tcp["Service"]; readonly network: FakeNetwork["Service"] },
  never,
  Scope.Scope
> = Effect.sync(() => {
  const network = new Network()
  return {
    tcp: { connect: makeConnect(network), listen: makeListen(network) },
    network: makeFakeNetwork(network)
  }
})
