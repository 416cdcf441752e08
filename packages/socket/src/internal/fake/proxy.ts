// The PROXY protocol on the fake network: an arriving end's header, read from
// the bytes its client wrote first, exactly as the Node layer reads a socket's
// (node/proxy.ts): batches are pulled until the bytes so far parse, and what
// came after the header goes back to the front of the end's receive buffer, for
// its connection (or node:tls) to read. The header's bytes are not the
// connection's: its `bytesRead` leaves them out, as on Node. The timeout runs on
// the Clock. Whatever fails resets the end.
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import type { InetAddress } from "../../Address.ts"
import type * as OSError from "../../OSError.ts"
import type { ProxyHeaderError, ProxyInfo } from "../../ProxyProtocol.ts"
import * as Header from "../proxy/header.ts"
import * as ProxyOptions from "../proxy/options.ts"
import { type Endpoint, makePull, shutEffect } from "./endpoint.ts"
import type { Network } from "./network.ts"

/** What reading a header fails with: that connection's error. */
export type HeaderError = ProxyHeaderError | OSError.AcceptError

const concat = (head: Uint8Array, chunks: ReadonlyArray<Uint8Array>): Uint8Array => {
  let size = head.length
  for (const chunk of chunks) size += chunk.length
  const bytes = new Uint8Array(size)
  bytes.set(head)
  let at = head.length
  for (const chunk of chunks) {
    bytes.set(chunk, at)
    at += chunk.length
  }
  return bytes
}

/** Puts bytes back at the front of the end's receive buffer, as Node's `unshift` does. */
const unread = (endpoint: Endpoint, bytes: Uint8Array): void => {
  const inbound = endpoint.inbound
  inbound.buffer = [bytes, ...inbound.buffer]
  inbound.bufferedBytes += bytes.length
  endpoint.link.bump()
}

/** Pulls until the bytes so far parse as a header (or do not). */
const read = (network: Network, endpoint: Endpoint, peer: InetAddress): Effect.Effect<ProxyInfo, HeaderError> => {
  const pull = makePull(network, endpoint)
  return Effect.gen(function*() {
    let received: Uint8Array = new Uint8Array(0)
    while (true) {
      const chunks = yield* Effect.catchIf(
        pull,
        Cause.isDone,
        () => Effect.fail(ProxyOptions.incomplete(peer, received.length))
      )
      // bounded: past a version's size limit, `parse` says the bytes are malformed
      received = concat(received, chunks)
      const parsed = Header.parse(received)
      if (parsed === undefined) continue
      if ("malformed" in parsed) return yield* Effect.fail(ProxyOptions.malformed(peer, parsed.malformed))
      if (parsed.length < received.length) unread(endpoint, received.subarray(parsed.length))
      endpoint.headerBytes = parsed.length
      return Header.infoOf(parsed, peer)
    }
  })
}

/** The header of an arriving end, within the header timeout: what it said, or that connection's error. */
export const readHeader = (
  network: Network,
  endpoint: Endpoint,
  options: ProxyOptions.Resolved
): Effect.Effect<ProxyInfo, HeaderError> => {
  const peer = endpoint.remote as InetAddress
  const header = ProxyOptions.isTrusted(options, peer)
    ? Effect.timeoutOrElse(read(network, endpoint, peer), {
      duration: options.headerTimeoutMillis,
      orElse: () => Effect.fail(ProxyOptions.timedOut(peer, options.headerTimeoutMillis))
    })
    : Effect.fail(ProxyOptions.untrusted(peer))
  return Effect.tapError(header, () => shutEffect(network, endpoint, "reset"))
}
