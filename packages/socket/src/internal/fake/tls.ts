// TLS on the fake network: node:tls itself, over a Duplex whose reads and writes
// are the fake end's own (`WireDuplex`). So real certificates and real
// verification errors show up with no OS socket, the network's faults
// (`splitWrites`, `resetAfter`, `stall`, latency) apply to the ciphertext on the
// wire, as on loopback, and the connection is the Node layer's own
// (`NodeConnection` over the TLS socket): the same reads, writes, end and close.
//
// What the wire reports goes to the TLS socket as the Node layer's TCP socket
// reports it: a failed read or write destroys it with that error (kept typed, so
// its detail survives), the end's close destroys it (as a TCP socket's close
// destroys the TLS socket over it). The handshake's timeout runs on the Clock.
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Scope from "effect/Scope"
import { Duplex } from "node:stream"
import type * as NodeTls from "node:tls"
import type { Connection } from "../../Connection.ts"
import * as OSError from "../../OSError.ts"
import type { StartTlsOptions } from "../../Tls.ts"
import * as Errors from "../errors.ts"
import { NodeConnection, type Secure, type Transport } from "../node/connection.ts"
import * as TlsErrors from "../tls/errors.ts"
import * as Handshake from "../tls/handshake.ts"
import * as TlsOptions from "../tls/options.ts"
import { type Endpoint, endpointOf, makeEnd, makePull, makeWriteAll, optionsOf, shutEffect } from "./endpoint.ts"
import type { Network } from "./network.ts"

type Run = <A, E>(effect: Effect.Effect<A, E>, onExit: (exit: Exit.Exit<A, E>) => void) => void

/** An error for node:tls that carries the typed one, which `Errors.fromNode` keeps. */
const toNodeError = (error: OSError.SocketError): Error =>
  Object.assign(new Error(error.message, { cause: error }), {
    code: error.code,
    errno: -error.errno,
    syscall: error.syscall
  })

/** A Duplex over a fake end: what node:tls reads and writes as its transport. */
class WireDuplex extends Duplex {
  /** The TLS socket over it, which hears of the wire's errors. */
  owner: NodeTls.TLSSocket | undefined = undefined
  private pulling = false
  private readonly pull: Effect.Effect<ReadonlyArray<Uint8Array>, OSError.ReadError | Cause.Done>
  private readonly writeAll: (chunks: ReadonlyArray<Uint8Array>) => Effect.Effect<void, OSError.WriteError>
  private readonly sendFin: Effect.Effect<void, OSError.WriteError>
  private readonly closeEnd: Effect.Effect<void>
  private readonly run: Run
  private readonly endpoint: Endpoint

  constructor(network: Network, endpoint: Endpoint, run: Run) {
    super({ allowHalfOpen: true })
    this.endpoint = endpoint
    this.pull = makePull(network, endpoint)
    this.writeAll = makeWriteAll(network, endpoint)
    this.sendFin = makeEnd(network, endpoint)
    this.closeEnd = shutEffect(network, endpoint, "close")
    this.run = run
  }

  fail(error: OSError.SocketError): void {
    const owner = this.owner
    if (owner !== undefined && !owner.destroyed) owner.destroy(toNodeError(error))
  }

  override _read(): void {
    if (this.pulling) return
    this.pulling = true
    // What arrives is handed over on a later turn of the event loop, as a kernel's reads are: never inside the
    // peer's write. (node:tls holds back its next write, an alert included, until its last one has finished, a
    // turn later: a peer that answered within that write would find its alert dropped.)
    this.run(this.pull, (exit) => void setImmediate(() => this.arrived(exit)))
  }

  private arrived(exit: Exit.Exit<ReadonlyArray<Uint8Array>, OSError.ReadError | Cause.Done>): void {
    this.pulling = false
    if (Exit.isSuccess(exit)) {
      for (const chunk of exit.value) this.push(chunk)
      return
    }
    if (Cause.hasInterruptsOnly(exit.cause)) return
    const error = Cause.findErrorOption(exit.cause)
    if (error._tag === "None") return void this.destroy()
    if (Cause.isDone(error.value)) return void this.push(null)
    this.fail(error.value)
  }

  override _write(chunk: Buffer, _: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.run(this.writeAll([chunk]), (exit) => {
      const error = Exit.isFailure(exit) ? Cause.findErrorOption(exit.cause) : undefined
      if (error !== undefined && error._tag === "Some") this.fail(this.resetSeenByRead(error.value))
      callback()
    })
  }

  /**
   * A write refused because the peer's RST came before its FIN: on a kernel, the TLS socket's read (always on
   * under node:tls) meets that RST first, as ECONNRESET, even when nothing reads the plaintext yet; here reads
   * wait for node:tls to ask, so a write (a TLS 1.3 server's session tickets) would meet it first, as EPIPE.
   */
  private resetSeenByRead(error: OSError.WriteError): OSError.SocketError {
    return error.code === "EPIPE" && this.endpoint.inbound.resetBeforeEof
      ? Errors.read("ECONNRESET", this.endpoint.where)
      : error
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.run(this.sendFin, (exit) => {
      const error = Exit.isFailure(exit) ? Cause.findErrorOption(exit.cause) : undefined
      if (error !== undefined && error._tag === "Some") this.fail(error.value)
      callback()
    })
  }

  override _destroy(_: Error | null, callback: (error?: Error | null) => void): void {
    // the end closes as a TCP socket closes under a TLS socket: errors went to the TLS socket already
    this.run(this.closeEnd, () => callback(null))
  }
}

/** The fake end under a TLS socket. */
const transportOf = (network: Network, endpoint: Endpoint, socket: () => NodeTls.TLSSocket | undefined, run: Run) =>
  ({
    remoteAddress: endpoint.peer,
    localAddress: endpoint.local,
    reset: () =>
      run(shutEffect(network, endpoint, "reset"), () => {
        socket()?.destroy()
      }),
    options: () => optionsOf(endpoint)
  }) satisfies Transport

/**
 * The handshake of one side over a fake end, within its timeout on the Clock: the TLS connection, or the
 * error (one of `allowed`, the operation's tags) once the TLS socket has closed. The connection is also
 * the end's `tls`, so what closes the end closes it properly.
 */
export const secure = (
  network: Network,
  endpoint: Endpoint,
  options: TlsOptions.Client | TlsOptions.Server,
  allowed: ReadonlyArray<OSError.Tag>
): Effect.Effect<NodeConnection, OSError.SocketError> =>
  Effect.flatMap(Effect.context<never>(), (context) => {
    const run: Run = (effect, onExit) => void Effect.runCallbackWith(context)(effect, { onExit })
    const handshake = Effect.callback<NodeConnection, OSError.SocketError>((resume) => {
      const duplex = new WireDuplex(network, endpoint, run)
      const transport = transportOf(network, endpoint, () => duplex.owner, run)
      const setup = { options, highWaterMark: endpoint.settings.writeBufferSize, allowed, reset: transport.reset }
      const running = Handshake.start(duplex, setup, endpoint.peer, (outcome) => {
        if (!("socket" in outcome)) return resume(Effect.fail(outcome))
        const secure: Secure = { info: outcome.info, transport, id: endpoint.id }
        resume(
          Effect.succeed(
            endpoint.tls = new NodeConnection(
              outcome.socket,
              endpoint.settings,
              undefined,
              undefined,
              undefined,
              secure,
              endpoint.proxy
            )
          )
        )
      })
      duplex.owner = running.socket
      // what closes the end (the idle timeout, a listener's shutdown) closes the TLS socket, as on Node, with
      // what its reads and writes fail with
      endpoint.onClose.push(() => {
        const connection = endpoint.tls
        if (connection !== undefined && endpoint.timedOut !== undefined) {
          // as the Node layer's idle sweep does
          connection.timedOut = endpoint.timedOut
          if (connection.readError === undefined && !connection.eof) connection.readError = endpoint.readError
        }
        running.socket.destroy()
      })
      return Effect.sync(() => running.abort(Errors.closedLocally(endpoint.peer)))
    })
    return Effect.timeoutOrElse(handshake, {
      duration: options.handshakeTimeoutMillis,
      orElse: () => Effect.fail(Errors.handshakeTimedOut(endpoint.peer, options.handshakeTimeoutMillis))
    })
  })

const startDefect = (detail: string): Error => new Error(`startTls: ${detail}`)

/** Why this end cannot start TLS now: a defect (a bug in the program), or what its connection met. */
const cannotStart = (endpoint: Endpoint): Effect.Effect<never, OSError.HandshakeError> | undefined => {
  if (endpoint.upgraded) return Effect.die(startDefect(`connection ${endpoint.id} was upgraded already`))
  if (endpoint.reading) {
    return Effect.die(startDefect(`a fiber is reading connection ${endpoint.id}: it must not be read while TLS starts`))
  }
  if (endpoint.readError !== undefined) return Effect.fail(endpoint.readError)
  if (endpoint.closed) return Effect.fail(Errors.brokenPipe(endpoint.peer, "connection closed"))
  // the peer ended its side: no handshake can follow
  if (endpoint.inbound.finArrived) return Effect.fail(TlsErrors.eof({ syscall: "handshake", ...endpoint.peer }))
  if (endpoint.ended) return Effect.fail(Errors.brokenPipe(endpoint.peer, "write after end"))
  return undefined
}

/** `Tcp.startTls` on the fake network: the plain connection's end is handed to node:tls, bytes it holds first. */
export const makeStartTls = (network: Network) =>
(
  connection: Connection,
  options: StartTlsOptions
): Effect.Effect<Connection, OSError.HandshakeError, Scope.Scope> =>
  Effect.gen(function*() {
    if (connection.tls !== undefined) {
      return yield* Effect.die(startDefect(`connection ${connection.id} speaks TLS already`))
    }
    const endpoint = endpointOf.get(connection)
    if (endpoint === undefined) {
      return yield* Effect.die(startDefect("the connection is not a plain one of Tcp.layerTest's"))
    }
    const resolved = yield* TlsOptions.startTls(options, endpoint.peer)
    const refused = cannotStart(endpoint)
    if (refused !== undefined) return yield* refused
    endpoint.upgraded = true
    yield* Effect.addFinalizer((exit) => endpoint.tls === undefined ? Effect.void : endpoint.tls.close(exit))
    return yield* secure(network, endpoint, resolved, OSError.tagsOf.handshake).pipe(
      // failed: the plain connection is closed, as on Node, and no longer taken
      Effect.tapError(() => Effect.sync(() => endpoint.upgraded = false))
    ) as Effect.Effect<Connection, OSError.HandshakeError>
  })
