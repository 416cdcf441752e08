// A TLS handshake over a transport, for both layers: on the Node layer the
// connected `net.Socket` itself (node:tls then wraps its native handle, and runs
// at node:tls speed), on the fakes a Duplex over the fake wire. It ends once:
// with the TLS socket and what was agreed, or with the typed error, once the
// socket has closed. Its timeout is the caller's (a Node timer, or the Clock).
//
// A server checks a client's certificate itself once the handshake is done, as
// node:tls's own server does (OpenSSL accepts any, and says what was wrong):
// one it rejects is reset, so that its client, which has finished its side of
// the handshake under TLS 1.3, meets a reset and not a clean end.
import type { Duplex } from "node:stream"
import * as NodeTls from "node:tls"
import * as OSError from "../../OSError.ts"
import type { TlsInfo } from "../../Tls.ts"
import * as TlsErrors from "./errors.ts"
import { infoOf } from "./info.ts"
import type * as Options from "./options.ts"

/** A finished handshake: the TLS socket (its events not listened to yet) and what it agreed. */
export interface Secured {
  readonly socket: NodeTls.TLSSocket
  readonly info: TlsInfo
}

/** How a handshake ended: an error is one of the tags the caller allowed (see `start`). */
export type Outcome = Secured | OSError.SocketError

export interface Handshake {
  /** The TLS socket the handshake runs on. */
  readonly socket: NodeTls.TLSSocket
  /** Ends the handshake with `error` (a timeout, a cancel): the socket closes, then `done` reports it. */
  readonly abort: (error: OSError.SocketError) => void
}

/** What the errors name: the peer's host and port, or a Unix socket's path. */
interface Address {
  readonly host?: string | undefined
  readonly port?: number | undefined
  readonly path?: string | undefined
}

type VerifyError = { readonly code?: unknown; readonly message?: unknown } | null | undefined

/** The client certificate's verification, as OpenSSL left it (node:tls's server asks the same). */
const verifyErrorOf = (socket: NodeTls.TLSSocket): VerifyError =>
  (socket as unknown as { readonly _handle?: { verifyError?: () => VerifyError } | null })._handle?.verifyError?.()

const open = (transport: Duplex, options: Options.Client | Options.Server, highWaterMark: number): NodeTls.TLSSocket =>
  options.role === "client"
    ? NodeTls.connect({
      socket: transport,
      secureContext: options.context,
      rejectUnauthorized: options.verify,
      // what the certificate is checked against (node:tls reads `servername`, then `host`)
      host: options.identity,
      ...(options.servername !== undefined ? { servername: options.servername } : {}),
      ...(options.alpnProtocols !== undefined ? { ALPNProtocols: options.alpnProtocols } : {}),
      // options node:tls passes on to the TLS socket (@types/node leaves them out)
      ...({ allowHalfOpen: true, highWaterMark } as {})
    })
    : new NodeTls.TLSSocket(transport, {
      isServer: true,
      secureContext: options.context,
      requestCert: options.clientCertificates !== "none",
      rejectUnauthorized: options.clientCertificates === "require",
      ...(options.alpnProtocols !== undefined ? { ALPNProtocols: options.alpnProtocols } : {}),
      // a Duplex option net.Socket passes on (@types/node leaves it out)
      ...({ highWaterMark } as {})
    })

/**
 * The server's check of the client's certificate: none asked for, or none sent where it may be, is accepted
 * (not authorized); one that verified is accepted (authorized); one that did not is the error to reject with.
 * (A missing one where it is required, OpenSSL refused already.)
 */
const checkClient = (
  socket: NodeTls.TLSSocket,
  options: Options.Server,
  where: TlsErrors.Where
): { readonly authorized: boolean } | OSError.SSLCertVerificationError => {
  if (options.clientCertificates === "none") return { authorized: false }
  if (socket.getPeerX509Certificate() === undefined) return { authorized: false }
  const error = verifyErrorOf(socket)
  if (error === null || error === undefined) return { authorized: true }
  const code = typeof error.code === "string" ? error.code : "CERT_REJECTED"
  return TlsErrors.certificate(code, String(error.message ?? code).split(";")[0]!.trim(), where)
}

/** How a handshake is run: the side's options, the TLS socket's buffer, and the errors it may end with. */
export interface Setup {
  readonly options: Options.Client | Options.Server
  readonly highWaterMark: number
  /** The tags of the operation it is part of (`connect`, `accept`, `handshake`): others become `OSError`/`SSLError`. */
  readonly allowed: ReadonlyArray<OSError.Tag>
  /** Aborts the TCP connection under the socket (an RST). */
  readonly reset: () => void
}

/** Starts the handshake of one side over `transport`; `done` is called once. */
export const start = (
  transport: Duplex,
  setup: Setup,
  address: Address,
  done: (outcome: Outcome) => void
): Handshake => {
  const { options, reset } = setup
  const where: TlsErrors.Where = { syscall: "handshake", ...address }
  const socket = open(transport, options, setup.highWaterMark)
  let failure: OSError.SocketError | undefined
  let settled = false
  const finish = (outcome: Outcome): void => {
    if (settled) return
    settled = true
    socket.off("secureConnect", onSecure)
    socket.off("secure", onSecure)
    socket.off("error", onError)
    socket.off("end", onEnd)
    socket.off("close", onClose)
    // nothing listens until the connection takes the socket over: a late error must not go unhandled
    socket.on("error", ignore)
    done(outcome)
  }
  const fail = (error: OSError.SocketError): void => {
    failure ??= error
    if (!socket.destroyed) socket.destroy()
  }
  // Out of OpenSSL's stack first (node:tls calls 'secure' from inside the handshake): resetting the TCP
  // handle under it there crashes the process.
  const reject = (error: OSError.SocketError): void => {
    failure ??= error
    setImmediate(() => {
      reset()
      if (!socket.destroyed) socket.destroy()
    })
  }
  function onSecure() {
    if (options.role === "client") return finish({ socket, info: infoOf(socket, socket.authorized) })
    const checked = checkClient(socket, options, where)
    if (checked instanceof OSError.SSLCertVerificationError) return reject(checked)
    finish({ socket, info: infoOf(socket, checked.authorized) })
  }
  function onError(cause: Error) {
    fail(TlsErrors.handshake(cause, where, setup.allowed, options.role === "client" ? options.identity : undefined))
  }
  // A server's end of the TCP connection before the handshake finished (a client's, node:tls reports as an error).
  function onEnd() {
    fail(TlsErrors.eof(where))
  }
  function onClose() {
    finish(failure ?? TlsErrors.eof(where))
  }
  socket.on(options.role === "client" ? "secureConnect" : "secure", onSecure)
  socket.on("error", onError)
  socket.on("end", onEnd)
  socket.on("close", onClose)
  return { socket, abort: (error) => fail(error) }
}

const ignore = (): void => {}
