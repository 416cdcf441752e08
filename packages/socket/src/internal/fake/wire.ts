// The wire between the two ends of a fake connection: per direction a `Flow` of
// segments from a writer to a reader,
//
//   write -> [in flight: segments due at send time + latency] -> [receive buffer] -> stream
//
// A flow holds at most `capacity` bytes (the reader's readLimit) in flight and
// buffered together: a writer suspends while it is full, exactly as a TCP
// sender stops at the receiver's window. Segments (data, FIN, close, RST) are
// delivered in order and lazily: every operation first "settles" the link at
// the Clock's current time, and a fiber that has to wait sleeps on the Clock
// until the next segment is due, or until the link changes. So everything runs
// on the Clock (TestClock drives latency and timeouts in no real time).
import * as Effect from "effect/Effect"
import type { WireEvent } from "../../FakeNetwork.ts"
import type { Endpoint } from "./endpoint.ts"
import type { Network } from "./network.ts"

export type SegmentKind = "data" | "fin" | "close" | "reset"

interface Segment {
  readonly kind: SegmentKind
  readonly bytes: Uint8Array | undefined
  readonly due: number
}

export class Flow {
  readonly capacity: number
  readonly inflight: Array<Segment> = []
  inflightBytes = 0
  buffer: Array<Uint8Array> = []
  bufferedBytes = 0
  /** Bytes delivered into the buffer so far: the reader's `bytesRead`, whether or not it pulled them. */
  received = 0
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
    this.capacity = capacity
  }
  get space(): number {
    return this.capacity - this.inflightBytes - this.bufferedBytes
  }
}

/** Anything fibers wait on: a version bumped on every change, and the waiters to wake. */
export class Signal {
  version = 0
  readonly waiters = new Set<() => void>()
  bump(): void {
    this.version++
    const waiters = [...this.waiters]
    this.waiters.clear()
    for (const wake of waiters) wake()
  }
}

/** One connection's wire: its two ends, and what the network's faults track on it. */
export class Link extends Signal {
  /** Bytes that crossed it both ways, for `resetAfter`. */
  crossed = 0
  lastActivity: number
  resetAfter: number | undefined
  ends: readonly [Endpoint, Endpoint] | undefined = undefined
  /** A Unix domain socket's: no RST, and a write to a closed peer fails at once. */
  unix = false
  constructor(now: number, resetAfter: number | undefined) {
    super()
    this.lastActivity = now
    this.resetAfter = resetAfter
  }
}

export const logEvent = (network: Network, from: Endpoint, kind: WireEvent["kind"], bytes?: Uint8Array): void => {
  network.log.push(
    bytes === undefined
      ? { connection: from.id, from: from.local, to: from.remote, kind }
      : { connection: from.id, from: from.local, to: from.remote, kind, bytes }
  )
}

export const send = (network: Network, from: Endpoint, kind: SegmentKind, now: number, bytes?: Uint8Array): void => {
  const flow = from.outbound
  flow.inflight.push({ kind, bytes, due: now + network.latency })
  if (bytes !== undefined) flow.inflightBytes += bytes.length
}

const deliver = (flow: Flow, segment: Segment): void => {
  switch (segment.kind) {
    case "data": {
      const bytes = segment.bytes!
      flow.inflightBytes -= bytes.length
      if (!flow.readerGone) {
        flow.buffer.push(bytes)
        flow.bufferedBytes += bytes.length
        flow.received += bytes.length
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
}

/** Delivers every segment due by `now`, in order; `true` when something moved. */
const settleFlow = (network: Network, link: Link, from: Endpoint, now: number): boolean => {
  const flow = from.outbound
  let moved = false
  while (!network.stalled && flow.inflight.length > 0 && flow.inflight[0]!.due <= now) {
    const segment = flow.inflight.shift()!
    moved = true
    if (segment.due > link.lastActivity) link.lastActivity = segment.due
    deliver(flow, segment)
    logEvent(network, from, segment.kind, segment.bytes)
  }
  return moved
}

/** Delivers what is due on the link both ways, and forgets the link once both ends closed and it is empty. */
export const settle = (network: Network, link: Link, now: number): void => {
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
export const nextDue = (network: Network, link: Link): number | undefined => {
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
export const waitChange = (
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

/** The network resets the connection both ways (`resetAfter`). */
export const abortLink = (network: Network, link: Link, now: number): void => {
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
