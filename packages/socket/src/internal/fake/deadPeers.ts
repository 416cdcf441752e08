// What notices a silent or dead peer on the fake network, as the Node layer and
// Linux do on loopback, for one end of a connection:
//
//   idle timeout      no traffic either way for that long (`idleTimeout`, ours)
//   TCP_USER_TIMEOUT  what was sent stays unacknowledged that long: in flight on a
//                     stalled network, or held back by a full window (a peer that
//                     takes nothing, as a stopped process)
//   keepalive         probes go unanswered: while the network is stalled (`stall`
//                     is the fake's vanished host; a peer that is only slow still
//                     answers), with nothing unacknowledged, as the kernel probes
//
// One fiber per end that asks for any of them, woken by every change on its link
// and at the next deadline, all on the Clock.
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Errors from "../errors.ts"
import { type Endpoint, keepAliveTimes, shut } from "./endpoint.ts"
import type { Network } from "./network.ts"
import { settle, waitChange } from "./wire.ts"

/** A deadline, or that the watch closed the connection. */
type Next = number | undefined | "closed"

const earliest = (a: number | undefined, b: number): number => a === undefined || b < a ? b : a

class Watch {
  private readonly network: Network
  private readonly endpoint: Endpoint
  private readonly idleMillis: number | undefined
  /** Since when what this end sent is unacknowledged, with no progress. */
  private stuckSince: number | undefined = undefined
  private delivered = 0
  private consumed = 0
  /** When keepalive gives up, once the network stalled with nothing unacknowledged. */
  private keepAliveFailsAt: number | undefined = undefined

  constructor(network: Network, endpoint: Endpoint, idleMillis: number | undefined) {
    this.network = network
    this.endpoint = endpoint
    this.idleMillis = idleMillis
  }

  /** Checks the connection at `now`: closes it when a timeout ran out, or says when to look again. */
  check(now: number): Next {
    const endpoint = this.endpoint
    settle(this.network, endpoint.link, now)
    if (endpoint.closed) return "closed"
    const idleAt = this.idle(now)
    if (idleAt === "closed") return idleAt
    const stuckAt = this.unacknowledged(now)
    if (stuckAt === "closed") return stuckAt
    const probesAt = this.keepAlive(now, this.stuckSince !== undefined)
    if (probesAt === "closed") return probesAt
    let next = idleAt
    if (stuckAt !== undefined) next = earliest(next, stuckAt)
    if (probesAt !== undefined) next = earliest(next, probesAt)
    return next
  }

  /** The idle timeout, as Node's `socket.setTimeout`; while our own consumer is behind, silence is not the peer's. */
  private idle(now: number): Next {
    const { endpoint, idleMillis } = this
    if (idleMillis === undefined) return undefined
    const link = endpoint.link
    // Behind because our writes wait for the peer to read, though, the silence is the peer's.
    if (endpoint.inbound.space <= 0 && endpoint.inbound.bufferedBytes > 0 && endpoint.outbound.space > 0) {
      link.lastActivity = now
    }
    const idleAt = link.lastActivity + idleMillis
    if (now < idleAt) return idleAt
    const timedOut = Errors.idle(endpoint.where, idleMillis)
    if (!endpoint.inbound.finArrived && endpoint.readError === undefined) endpoint.readError = timedOut.read
    endpoint.timedOut = timedOut.write
    shut(this.network, endpoint, "close", now)
    return "closed"
  }

  /** TCP_USER_TIMEOUT: sent and not delivered, or held back by a full window, with no progress for that long. */
  private unacknowledged(now: number): Next {
    const { endpoint } = this
    const outbound = endpoint.outbound
    // (a write interrupted while held back leaves the flag: there is room now, and nothing waits for it)
    if (endpoint.heldBack && outbound.space > 0) endpoint.heldBack = false
    const stuck = outbound.inflight.length > 0 || endpoint.heldBack
    const consumed = outbound.received - outbound.bufferedBytes
    const progressed = outbound.received !== this.delivered || consumed !== this.consumed
    this.delivered = outbound.received
    this.consumed = consumed
    if (!stuck) this.stuckSince = undefined
    else if (this.stuckSince === undefined || progressed) this.stuckSince = now
    const timeout = endpoint.settings.userTimeoutMillis
    if (this.stuckSince === undefined || timeout === undefined) return undefined
    const failsAt = this.stuckSince + timeout
    return now < failsAt ? failsAt : this.deadPeer(now)
  }

  /**
   * Keepalive: probes start once the peer was silent for `idle` (answered ones count as hearing from it), then
   * every `interval`; after `count` unanswered ones the connection fails. With a user timeout, Linux's rule: the
   * first probe past it. Only while nothing is unacknowledged: otherwise the kernel retransmits instead.
   */
  private keepAlive(now: number, stuck: boolean): Next {
    const { endpoint, network } = this
    const settings = endpoint.settings
    if (!settings.keepAlive || !network.stalled || stuck) {
      this.keepAliveFailsAt = undefined
      return undefined
    }
    if (this.keepAliveFailsAt === undefined) {
      const { count, idleMillis, intervalMillis } = keepAliveTimes(settings)
      // Probes before the stall were answered: the first unanswered one is the first due after it.
      const heard = endpoint.link.lastActivity
      const firstProbe = heard + Math.max(1, Math.ceil((now - heard) / idleMillis)) * idleMillis
      const timeout = settings.userTimeoutMillis
      const probes = timeout === undefined ? count : Math.max(1, Math.ceil((timeout - idleMillis) / intervalMillis))
      this.keepAliveFailsAt = firstProbe + probes * intervalMillis
    }
    return now < this.keepAliveFailsAt ? this.keepAliveFailsAt : this.deadPeer(now)
  }

  /** The kernel gives up: reads and waiting writes fail with ETIMEDOUT, what was unacknowledged is dropped, an RST goes out. */
  private deadPeer(now: number): "closed" {
    const { endpoint } = this
    const dead = Errors.deadPeer(endpoint.where)
    if (!endpoint.inbound.finArrived && endpoint.readError === undefined) endpoint.readError = dead.read
    endpoint.timedOut = dead.write
    const outbound = endpoint.outbound
    outbound.inflight.length = 0
    outbound.inflightBytes = 0
    shut(this.network, endpoint, "reset", now)
    return "closed"
  }
}

/**
 * The watch of one end, for as long as it is open; `undefined` where it asks for none of the three. Runs in the
 * scope that owns the end (the listener's, or `connect`'s caller's).
 */
export const watch = (
  network: Network,
  endpoint: Endpoint,
  idleMillis: number | undefined
): Effect.Effect<void> | undefined => {
  const { keepAlive, userTimeoutMillis } = endpoint.settings
  if (idleMillis === undefined && !keepAlive && userTimeoutMillis === undefined) return undefined
  const state = new Watch(network, endpoint, idleMillis)
  return Effect.gen(function*() {
    while (true) {
      const now = yield* Clock.currentTimeMillis
      const next = state.check(now)
      if (next === "closed") return
      yield* waitChange(endpoint.link, endpoint.link.version, now, next)
    }
  })
}
