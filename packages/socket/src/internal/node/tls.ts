// TLS on the Node layer: node:tls over the connected socket itself, so that it
// wraps the socket's native handle (no JavaScript stream in between: node:tls
// speed). The handshake runs once the TCP connection is established (a client's
// connect, a server's accept, STARTTLS), bounded by its own timer; the
// connection is made only once it is done, its transport the TCP socket (for
// its options and reset: a TLS socket has no descriptor of its own).
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type * as Net from "node:net"
import type { Address } from "../../Address.ts"
import type { Connection } from "../../Connection.ts"
import * as OSError from "../../OSError.ts"
import type { ProxyInfo } from "../../ProxyProtocol.ts"
import type { StartTlsOptions } from "../../Tls.ts"
import * as Errors from "../errors.ts"
import { nextConnectionId } from "../ids.ts"
import type * as Settings from "../settings.ts"
import * as Sockopt from "../sockopt.ts"
import * as TlsErrors from "../tls/errors.ts"
import * as Handshake from "../tls/handshake.ts"
import * as TlsOptions from "../tls/options.ts"
import * as Closing from "./closing.ts"
import { NodeConnection, type Secure, type Transport } from "./connection.ts"
import type { IdleSweep } from "./idle.ts"
import * as Socket from "./socket.ts"

/** The TCP socket under a TLS one; its peer, or the client a PROXY header named. */
class TcpTransport implements Transport {
  readonly raw: Net.Socket
  readonly remoteAddress: Address
  readonly localAddress: Address
  constructor(raw: Net.Socket, client: Address | undefined) {
    this.raw = raw
    this.remoteAddress = client ?? Socket.toAddress(raw.remoteAddress, raw.remotePort, raw.remoteFamily)
    this.localAddress = Socket.toAddress(raw.localAddress, raw.localPort, raw.localFamily)
  }
  reset(): void {
    Closing.reset(this.raw)
  }
  options() {
    return Sockopt.read(this.raw)
  }
}

/** A finished handshake, ready to become a connection: the TLS socket, and what the connection keeps. */
export interface Secured {
  readonly socket: Net.Socket
  readonly secure: Secure
}

/** How a handshake ended: an error is one of the tags `allowed` (see `handshake`). */
export type Outcome = Secured | OSError.SocketError

/**
 * Runs one side's handshake over the connected socket `raw`, within the handshake timeout; `done` is called
 * once, when it succeeded or once the socket is closed, with an error among the tags `allowed` (those of
 * the operation: `connect`, `accept`, `handshake`). The returned function aborts it (a cancelled connect).
 * Its errors name `client` where a PROXY header named one, as the connection will.
 */
export const handshake = (
  raw: Net.Socket,
  options: TlsOptions.Client | TlsOptions.Server,
  settings: Settings.Settings,
  allowed: ReadonlyArray<OSError.Tag>,
  id: number,
  done: (outcome: Outcome) => void,
  client?: Address | undefined
): (aborted: OSError.SocketError) => void => {
  const transport = new TcpTransport(raw, client)
  const peer = transport.remoteAddress
  const timer = setTimeout(() => {
    running.abort(Errors.handshakeTimedOut(peer, options.handshakeTimeoutMillis))
  }, options.handshakeTimeoutMillis)
  const setup = { options, highWaterMark: settings.writeBufferSize, allowed, reset: () => transport.reset() }
  const running = Handshake.start(raw, setup, peer, (outcome) => {
    clearTimeout(timer)
    if (!("socket" in outcome)) return done(outcome)
    done({ socket: outcome.socket, secure: { info: outcome.info, transport, id } })
  })
  return running.abort
}

/**
 * The connection of a finished handshake. The idle sweep finds it through the TCP socket, which the
 * listener holds; `forget` tells the listener that TCP socket closed. `proxy`: the PROXY header read before it.
 */
export const connectionOf = (
  secured: Secured,
  settings: Settings.Settings,
  idle?: IdleSweep | undefined,
  forget?: ((socket: Net.Socket) => void) | undefined,
  proxy?: ProxyInfo | undefined
): NodeConnection => {
  const raw = (secured.secure.transport as TcpTransport).raw
  const connection = new NodeConnection(
    secured.socket,
    settings,
    idle,
    forget === undefined ? undefined : () => forget(raw),
    undefined,
    secured.secure,
    proxy
  )
  Socket.adopt(raw, connection)
  return connection
}

/** A fresh id for a connection whose handshake starts: its log lines carry it, failed or not. */
export const newId = (): number => nextConnectionId()

const startDefect = (detail: string): Error => new Error(`startTls: ${detail}`)

/** Why `plain` cannot start TLS now: a defect (a bug in the program), or the error its socket met. */
const cannotStart = (plain: NodeConnection): Effect.Effect<never, OSError.HandshakeError> | undefined => {
  if (plain.upgraded !== undefined) return Effect.die(startDefect(`connection ${plain.id} was upgraded already`))
  if (plain.secure !== undefined) return Effect.die(startDefect(`connection ${plain.id} speaks TLS already`))
  if (plain.readWaiter !== undefined || plain.copy !== undefined) {
    return Effect.die(startDefect(`a fiber is reading connection ${plain.id}: it must not be read while TLS starts`))
  }
  if (plain.readError !== undefined) return Effect.fail(plain.readError)
  // the peer ended its side: no handshake can follow
  if (plain.eof) return Effect.fail(TlsErrors.eof({ syscall: "handshake", ...plain.remoteAddress }))
  const unwritable = plain.closed ? Errors.brokenPipe(plain.remoteAddress, "connection closed") : plain.unwritable()
  return unwritable === undefined ? undefined : Effect.fail(unwritable)
}

/**
 * Hands the plain connection's socket over: what it received and did not deliver goes back to the socket
 * (node:tls reads it first, as the start of the handshake), and it no longer listens to the socket.
 */
const release = (plain: NodeConnection): Net.Socket => {
  const socket = plain.socket
  const queued = plain.queue
  plain.queue = undefined
  plain.queued = 0
  // paused, so that what goes back waits in the socket's buffer instead of flowing to nobody
  socket.pause()
  if (queued !== undefined) { for (let i = queued.length - 1; i >= 0; i--) socket.unshift(queued[i] as Buffer) }
  Socket.disown(socket)
  return socket
}

/** `Tcp.startTls` on the Node layer. */
export const startTls = (
  connection: Connection,
  options: StartTlsOptions
): Effect.Effect<Connection, OSError.HandshakeError, Scope.Scope> =>
  Effect.gen(function*() {
    if (!(connection instanceof NodeConnection)) {
      return yield* Effect.die(startDefect("the connection is not one of Tcp.layer's"))
    }
    const plain = connection
    const peer = plain.remoteAddress
    const resolved = yield* TlsOptions.startTls(options, peer)
    let upgraded: NodeConnection | undefined
    yield* Effect.addFinalizer((exit) => upgraded === undefined ? Effect.void : upgraded.close(exit))
    return yield* Effect.callback<Connection, OSError.HandshakeError>((resume) => {
      const refused = cannotStart(plain)
      if (refused !== undefined) return resume(refused)
      let cancelled: (() => void) | undefined
      const allowed = OSError.tagsOf.handshake
      const abort = handshake(release(plain), resolved, plain.settings, allowed, plain.id, (outcome) => {
        if (!("socket" in outcome)) {
          // the socket is gone: the plain connection closes as it would have
          plain.onClose()
          return cancelled !== undefined ? cancelled() : resume(Effect.fail(outcome as OSError.HandshakeError))
        }
        upgraded = plain.upgraded = connectionOf(outcome, plain.settings, plain.idle, plain.forget, plain.proxy)
        if (cancelled === undefined) return resume(Effect.succeed(upgraded))
        upgraded.shut(true)
        cancelled()
      }, plain.proxy?.source)
      return Effect.callback<void>((resumeCancel) => {
        cancelled = () => resumeCancel(Effect.void)
        abort(Errors.closedLocally(peer))
      })
    })
  })
