// One end of a fake connection, and the `Connection` it offers: reading
// (pull), writing, end, reset, options and counters.
//
// Where TCP leaves room, the fake does what the Node layer does, and the
// contract suite (test/contract.ts) holds both to it: closing a scope sends a
// FIN (also on interruption), `reset` an RST; after the peer's close one write
// is taken (its kernel answers it with an RST) and the next is EPIPE, after its
// reset every write is EPIPE, reading after a reset ECONNRESET, a read cut short by closing
// one's own end ECONNABORTED. Closing never waits for a flush (`closeTimeout`
// has nothing to wait for): a write completes only once its bytes are on the
// wire, which delivers them before the close's FIN.
//
// TLS (tls.ts) runs node:tls over this end's own reads and writes; its
// connection is then `tls`, and STARTTLS marks the plain one `upgraded`.
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import * as Sink from "effect/Sink"
import * as Stream from "effect/Stream"
import type { Address } from "../../Address.ts"
import type { Connection } from "../../Connection.ts"
import { copy } from "../../Connection.ts"
import type * as OSError from "../../OSError.ts"
import type { ProxyInfo } from "../../ProxyProtocol.ts"
import { type SocketOptions, unavailable } from "../../SocketOptions.ts"
import { hasUserTimeout } from "../deadPeers.ts"
import * as Defects from "../defects.ts"
import * as Errors from "../errors.ts"
import { nextConnectionId } from "../ids.ts"
import type { NodeConnection } from "../node/connection.ts"
import type * as Settings from "../settings.ts"
import type { Network } from "./network.ts"
import { abortLink, Flow, type Link, nextDue, send, settle, waitChange } from "./wire.ts"

// What Linux reports for a fresh loopback socket, so logs look plausible.
const defaultReceiveBufferSize = 131_072
const defaultSendBufferSize = 16_384
/** Linux's net.core.rmem_default and wmem_default, which a Unix socket starts with. */
const defaultUnixBufferSize = 212_992
const kernelDoubles = process.platform === "linux"

/** Keepalive's times as the kernel holds them for a socket: seconds in milliseconds, and the probe count. */
export interface KeepAliveTimes {
  readonly idleMillis: number
  readonly intervalMillis: number
  readonly count: number
}

/**
 * What the Node layer leaves the kernel with: Linux's own times (2 hours, 75 seconds, 9 probes), except that
 * libuv sets an interval of 1 second and 10 probes with an idle time; and what was asked, over them.
 */
export const keepAliveTimes = (settings: Settings.Settings): KeepAliveTimes => {
  const withIdle = settings.keepAlive && settings.keepAliveInitialDelay > 0
  return {
    idleMillis: withIdle ? settings.keepAliveInitialDelay : 7200_000,
    intervalMillis: (settings.keepAliveIntervalSeconds ?? (withIdle ? 1 : 75)) * 1000,
    count: settings.keepAliveCount ?? (withIdle ? 10 : 9)
  }
}

export class Endpoint {
  readonly id = nextConnectionId()
  readonly link: Link
  readonly local: Address
  readonly remote: Address
  readonly settings: Settings.Settings
  /** Accepted by a listener (SO_REUSEADDR is set on those), rather than connected. */
  readonly accepted: boolean
  readonly reusePort: boolean
  /** What the peer sends us; its capacity is our readLimit. */
  readonly inbound: Flow
  /** What we send: the peer's inbound. */
  outbound!: Flow
  ended = false
  closed = false
  /** Reset by the network (`resetAfter`): writes fail with ECONNRESET. */
  aborted = false
  /** The peer had closed when we wrote: its kernel took that write and answered with an RST. */
  answeredByReset = false
  /** Set once, as in Node: the idle timeout, or a read cut short by closing this end. */
  readError: OSError.ReadError | undefined = undefined
  /** Set when the idle timeout closed this end: what a waiting write fails with. */
  timedOut: OSError.WriteError | undefined = undefined
  /** A pull is waiting for bytes: the stream has a reader. */
  reading = false
  /**
   * A write waits for room (a full window): what it has not sent is unacknowledged, which TCP_USER_TIMEOUT
   * counts. Cleared as it sends again or fails; one interrupted while held is cleared by the watch
   * (deadPeers.ts) once there is room.
   */
  heldBack = false
  bytesWritten = 0
  readonly onClose: Array<() => void> = []
  connection: Connection | undefined = undefined
  /** What its PROXY protocol header said, on a server that reads one; its client is the connection's peer. */
  proxy: ProxyInfo | undefined = undefined
  /** The bytes its PROXY header took, which are not the connection's (`bytesRead` leaves them out). */
  headerBytes = 0
  /** The connection's peer: the client a PROXY header named, or the other end. */
  get peer(): Address {
    return this.proxy?.source ?? this.remote
  }
  /** What its errors name: the peer, or a Unix socket's path (its client end is unnamed). */
  get where(): Errors.Where {
    return this.link.unix ? (this.accepted ? this.local : this.remote) : this.peer
  }
  /** The TLS connection over this end, once its handshake is done. */
  tls: NodeConnection | undefined = undefined
  /** STARTTLS took this end's wire: its plain connection must not be read or written. */
  upgraded = false
  constructor(options: Pick<Endpoint, "link" | "local" | "remote" | "settings" | "accepted" | "reusePort">) {
    this.link = options.link
    this.local = options.local
    this.remote = options.remote
    this.settings = options.settings
    this.accepted = options.accepted
    this.reusePort = options.reusePort
    this.inbound = new Flow(options.settings.readLimit)
  }
}

/**
 * Bytes a Unix socket's kernel still holds for this end: the Node layer reads ahead until its queue holds the
 * read limit, so only what is beyond it (a full buffer) or still on its way is unread by the socket.
 */
const unreadByKernel = (inbound: Flow): boolean => inbound.inflightBytes > 0 || inbound.space <= 0

/**
 * Closes one end: `close` is a FIN (and a broken pipe for whoever writes back), `reset` an RST. A Unix socket
 * has no RST: either way its peer reads the end, or ECONNRESET when this end left bytes unread (as Linux does).
 */
export const shut = (network: Network, endpoint: Endpoint, kind: "close" | "reset", now: number): void => {
  if (endpoint.closed) return
  const link = endpoint.link
  settle(network, link, now)
  if (link.unix) kind = unreadByKernel(endpoint.inbound) ? "reset" : "close"
  endpoint.closed = true
  // What arrived is still read (as from Node's queue); a read waiting for more is cut short.
  endpoint.inbound.readerGone = true
  if (!endpoint.inbound.finArrived && endpoint.readError === undefined) {
    endpoint.readError = Errors.closedLocally(endpoint.where)
  }
  // Whoever keeps count (the listener) hears of it before the peer can: as on Node, where the socket's
  // 'close' comes before the peer reads the FIN.
  for (const callback of endpoint.onClose.splice(0)) callback()
  send(network, endpoint, kind, now)
  settle(network, link, now)
  link.bump()
}

export const shutEffect = (network: Network, endpoint: Endpoint, kind: "close" | "reset"): Effect.Effect<void> =>
  Effect.flatMap(Clock.currentTimeMillis, (now) => Effect.sync(() => shut(network, endpoint, kind, now)))

const writeFailure = (endpoint: Endpoint): OSError.WriteError | undefined => {
  if (endpoint.timedOut !== undefined) return endpoint.timedOut
  if (endpoint.closed) return Errors.brokenPipe(endpoint.where, "connection closed")
  if (endpoint.ended) return Errors.brokenPipe(endpoint.where, "write after end")
  if (endpoint.inbound.resetArrived || endpoint.answeredByReset) return Errors.write("EPIPE", endpoint.where)
  // reset by the network, its RST to us still in flight
  if (endpoint.aborted) return Errors.write("ECONNRESET", endpoint.where)
  return undefined
}

/** Puts up to `size` bytes of `bytes` from `offset` on the wire; `true` when that crossed `resetAfter`. */
const sendData = (network: Network, endpoint: Endpoint, bytes: Uint8Array, offset: number, now: number) => {
  const link = endpoint.link
  const space = Math.min(endpoint.outbound.space, bytes.length - offset, network.splitSize ?? Infinity)
  const allowed = link.resetAfter === undefined ? Infinity : link.resetAfter - link.crossed
  const trips = space >= allowed
  const size = trips ? allowed : space
  if (size > 0) {
    send(network, endpoint, "data", now, bytes.slice(offset, offset + size))
    endpoint.bytesWritten += size
    link.crossed += size
    link.lastActivity = now
  }
  if (trips) abortLink(network, link, now)
  settle(network, link, now)
  link.bump()
  return { sent: size, trips }
}

const encoder = new TextEncoder()

/** The writer waits for the peer to take bytes: held back. */
const awaitRoom = (network: Network, endpoint: Endpoint, now: number): Effect.Effect<void> => {
  const link = endpoint.link
  if (!endpoint.heldBack) {
    endpoint.heldBack = true
    // So that the watch of a user timeout sees it. (Only as it starts waiting: held writers do not wake each other.)
    link.bump()
  }
  return waitChange(link, link.version, now, nextDue(network, link))
}

export const makeWrite = (network: Network, endpoint: Endpoint) =>
  Effect.fnUntraced(function*(data: Uint8Array | string) {
    // On the wire, as from Node's socket, a string is its UTF-8 bytes.
    const bytes = typeof data === "string" ? encoder.encode(data) : data
    const link = endpoint.link
    let offset = 0
    while (true) {
      const now = yield* Clock.currentTimeMillis
      settle(network, link, now)
      const failure = writeFailure(endpoint)
      if (failure !== undefined) {
        endpoint.heldBack = false
        return yield* Effect.fail(failure)
      }
      if (bytes.length === 0) return
      if (endpoint.inbound.closeArrived) {
        // As a real peer's kernel does after its close: it takes the bytes (lost), then answers with an RST.
        endpoint.bytesWritten += bytes.length - offset
        return
      }
      if (endpoint.outbound.space <= 0) {
        yield* awaitRoom(network, endpoint, now)
        continue
      }
      endpoint.heldBack = false
      const { sent, trips } = sendData(network, endpoint, bytes, offset, now)
      offset += sent
      if (trips) return yield* Effect.fail(Errors.write("ECONNRESET", endpoint.where))
      if (offset >= bytes.length) return
    }
  })

/** After STARTTLS the plain connection's reads and writes are a defect: its wire speaks TLS. */
const upgradedDefect = (endpoint: Endpoint) => Effect.die(Defects.upgraded(endpoint.id))

const secondReader = (endpoint: Endpoint) => Effect.die(Defects.secondReader(endpoint.id))

/** Waits for the link to change, marked as this connection's one waiting reader. */
const awaitBytes = (network: Network, endpoint: Endpoint, now: number): Effect.Effect<void> => {
  const link = endpoint.link
  endpoint.reading = true
  return Effect.ensuring(
    waitChange(link, link.version, now, nextDue(network, link)),
    Effect.sync(() => {
      endpoint.reading = false
    })
  )
}

// Everything buffered in one batch: at most the readLimit, which bounds what the flow holds.
export const makePull = (network: Network, endpoint: Endpoint, plain = false) =>
  Effect.gen(function*() {
    if (plain && endpoint.upgraded) return yield* upgradedDefect(endpoint)
    if (endpoint.reading) return yield* secondReader(endpoint)
    const link = endpoint.link
    const inbound = endpoint.inbound
    while (true) {
      const now = yield* Clock.currentTimeMillis
      settle(network, link, now)
      if (inbound.buffer.length > 0) {
        const chunks = inbound.buffer as unknown as readonly [Uint8Array, ...Array<Uint8Array>]
        inbound.buffer = []
        inbound.bufferedBytes = 0
        link.bump()
        return chunks
      }
      if (endpoint.readError !== undefined) return yield* Effect.fail(endpoint.readError)
      if (inbound.resetBeforeEof) return yield* Effect.fail(Errors.read("ECONNRESET", endpoint.where))
      if (inbound.finArrived) return yield* Cause.done()
      yield* awaitBytes(network, endpoint, now)
    }
  })

/** Half-close: a FIN after what was written. */
export const makeEnd = (network: Network, endpoint: Endpoint): Effect.Effect<void, OSError.WriteError> =>
  Effect.flatMap(Clock.currentTimeMillis, (now) =>
    Effect.suspend(() => {
      if (endpoint.ended) return Effect.void
      if (endpoint.closed) return Effect.fail(Errors.brokenPipe(endpoint.where, "connection closed"))
      endpoint.ended = true
      send(network, endpoint, "fin", now)
      settle(network, endpoint.link, now)
      endpoint.link.bump()
      return Effect.void
    }))

const asKernelReports = (size: number) => kernelDoubles ? size * 2 : size

export const optionsOf = (endpoint: Endpoint): SocketOptions => {
  const { keepAlive, noDelay, receiveBufferSize, sendBufferSize, userTimeoutMillis } = endpoint.settings
  if (endpoint.link.unix) {
    // as the Node layer reports a Unix socket: its buffers; TCP's options do not apply
    return {
      ...unavailable,
      receiveBufferSize: receiveBufferSize === undefined ? defaultUnixBufferSize : asKernelReports(receiveBufferSize),
      sendBufferSize: sendBufferSize === undefined ? defaultUnixBufferSize : asKernelReports(sendBufferSize)
    }
  }
  const times = keepAliveTimes(endpoint.settings)
  return {
    reuseAddress: endpoint.accepted,
    reusePort: endpoint.reusePort,
    receiveBufferSize: receiveBufferSize === undefined ? defaultReceiveBufferSize : asKernelReports(receiveBufferSize),
    sendBufferSize: sendBufferSize === undefined ? defaultSendBufferSize : asKernelReports(sendBufferSize),
    noDelay,
    keepAlive,
    keepAliveIdle: Duration.millis(times.idleMillis),
    keepAliveInterval: Duration.millis(times.intervalMillis),
    keepAliveCount: times.count,
    userTimeout: hasUserTimeout ? Duration.millis(userTimeoutMillis ?? 0) : undefined
  }
}

/** Writes a batch, as Node writes it in one go: after the peer's close one is taken, its RST fails the next. */
export const makeWriteAll = (network: Network, endpoint: Endpoint) => {
  const write = makeWrite(network, endpoint)
  const answer = Effect.sync(() => {
    if (endpoint.inbound.closeArrived) endpoint.answeredByReset = true
  })
  return (chunks: ReadonlyArray<Uint8Array | string>) =>
    Effect.ensuring(Effect.forEach(chunks, write, { discard: true }), answer)
}

/** The plain connection each endpoint offers, by connection: what STARTTLS upgrades. */
export const endpointOf = new WeakMap<Connection, Endpoint>()

/** The scope's close: a TLS connection's own close (close_notify, then FIN), then the end's. */
export const closeEffect = (network: Network, endpoint: Endpoint, exit: Exit.Exit<unknown, unknown>) =>
  Effect.andThen(
    Effect.suspend(() => endpoint.tls === undefined ? Effect.void : endpoint.tls.close(exit)),
    shutEffect(network, endpoint, "close")
  )

/** The endpoint's `Connection`, made once. */
export const toConnection = (network: Network, endpoint: Endpoint): Connection => {
  if (endpoint.connection !== undefined) return endpoint.connection
  const writeBatch = makeWriteAll(network, endpoint)
  // checked as the write is made, not in an effect of its own: no yield between a copy's read and its write
  const writeAll = (chunks: ReadonlyArray<Uint8Array | string>) =>
    endpoint.upgraded ? upgradedDefect(endpoint) : writeBatch(chunks)
  const pull = makePull(network, endpoint, true)
  const end = makeEnd(network, endpoint)
  const connection: Connection = {
    id: endpoint.id,
    remoteAddress: endpoint.peer,
    localAddress: endpoint.local,
    stream: Stream.fromPull(Effect.succeed(pull)),
    write: (data) => writeAll([data]),
    writeAll,
    sink: Sink.forEachArray(writeAll),
    copyTo: (destination) => copy(connection, destination),
    end: Effect.suspend(() => endpoint.upgraded ? upgradedDefect(endpoint) : end),
    reset: shutEffect(network, endpoint, "reset"),
    options: Effect.sync(() => optionsOf(endpoint)),
    bytesRead: Effect.sync(() => endpoint.inbound.received - endpoint.headerBytes),
    bytesWritten: Effect.sync(() => endpoint.bytesWritten),
    tls: undefined,
    proxy: endpoint.proxy
  }
  endpoint.connection = connection
  endpointOf.set(connection, endpoint)
  return connection
}
