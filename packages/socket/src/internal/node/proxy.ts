// The PROXY protocol on the Node layer: an accepted socket's header, read off
// the socket itself before any connection owns it (the listener then hands it
// out, or starts its TLS handshake). The socket flows until the bytes so far
// parse (internal/proxy/header.ts); what came after the header goes back to the
// socket (`unshift`), so the connection's stream, or node:tls, reads it first:
// nothing is lost, and nothing more is read than the kernel had delivered.
//
// A peer outside the trusted ranges is reset before anything is read. A bad
// header, the peer's end before a whole one, or the header timeout (a timer of
// its own, as a TLS handshake's) reset the socket too: the outcome is then that
// connection's error.
import type * as Net from "node:net"
import type { InetAddress } from "../../Address.ts"
import type * as OSError from "../../OSError.ts"
import type { ProxyHeaderError, ProxyInfo } from "../../ProxyProtocol.ts"
import * as Errors from "../errors.ts"
import * as Header from "../proxy/header.ts"
import * as ProxyOptions from "../proxy/options.ts"
import * as Closing from "./closing.ts"
import * as Socket from "./socket.ts"

/** How reading a header ended: what it said, or that connection's error. */
export type Outcome = ProxyInfo | ProxyHeaderError | OSError.AcceptError

/** The peer as it connected: the proxy (or whoever reached the port). */
export const peerOf = (socket: Net.Socket): InetAddress =>
  Socket.toAddress(socket.remoteAddress, socket.remotePort, socket.remoteFamily)

/** Reads the header of an accepted (paused) socket; `done` is called once, with what it said or an error. */
export const readHeader = (
  socket: Net.Socket,
  options: ProxyOptions.Resolved,
  done: (outcome: Outcome) => void
): void => {
  const peer = peerOf(socket)
  if (!ProxyOptions.isTrusted(options, peer)) {
    Closing.reset(socket.on("error", Socket.ignore))
    return done(ProxyOptions.untrusted(peer))
  }
  let received: Uint8Array | undefined
  let settled = false
  const timer = setTimeout(
    () => fail(ProxyOptions.timedOut(peer, options.headerTimeoutMillis)),
    options.headerTimeoutMillis
  )
  const finish = (outcome: Outcome): void => {
    if (settled) return
    settled = true
    clearTimeout(timer)
    socket.off("data", onData)
    socket.off("end", onEnd)
    socket.off("error", onError)
    socket.off("close", onClose)
    done(outcome)
  }
  const fail = (error: Outcome): void => {
    finish(error)
    Closing.reset(socket.on("error", Socket.ignore))
  }
  function onData(chunk: Buffer) {
    // bounded: past a version's size limit, `parse` says the bytes are malformed
    const bytes = received === undefined ? chunk : Buffer.concat([received, chunk])
    const parsed = Header.parse(bytes)
    if (parsed === undefined) return void (received = bytes)
    if ("malformed" in parsed) return fail(ProxyOptions.malformed(peer, parsed.malformed))
    socket.pause()
    if (parsed.length < bytes.length) socket.unshift(bytes.subarray(parsed.length))
    finish(Header.infoOf(parsed, peer))
  }
  function onEnd() {
    fail(ProxyOptions.incomplete(peer, received?.length ?? 0))
  }
  function onError(cause: Error) {
    socket.on("error", Socket.ignore)
    finish(Errors.fromNode("accept", cause, peer))
  }
  function onClose() {
    finish(Errors.accept("ECONNABORTED", peer, "connection closed locally"))
  }
  socket.on("data", onData)
  socket.on("end", onEnd)
  socket.on("error", onError)
  socket.on("close", onClose)
  socket.resume()
}
