// One connection of the Node layer: one object per socket, its methods on the
// prototype, effects built when asked for.
//
// Reading: the socket flows ('data' events) into a small array queue; once the
// queue holds `readLimit` bytes the socket is paused (a chunk larger than the
// room left is split, its rest put back in Node's stream), and the next pull
// takes every queued chunk as one batch and resumes it. A pull that finds
// nothing waits for the next chunk, which is handed to it directly; a Reader's
// read (readInto.ts) has it pushed into the Reader's buffer before it resumes.
// No Effect per chunk beyond the one the batch is delivered in. A copy
// (copy.ts) past its first 64 KiB reads into a buffer of its own (reads.ts);
// should `stream` be read after it, what the queue holds are copies of it.
//
// Writing: `socket.write` returning true costs nothing more; false suspends the
// writer until 'drain'. Closing: see closing.ts.
//
// TLS (see tls.ts): the socket is a `tls.TLSSocket` (a `net.Socket`, read and
// written as any), and `secure` holds what the handshake agreed and the
// transport under it (the TCP socket, or a fake wire), which answers for the
// addresses, options and reset. STARTTLS hands a plain connection's socket to a
// new TLS connection: the plain one is `upgraded`, and only closes.
import type { NonEmptyReadonlyArray } from "effect/Array"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Pull from "effect/Pull"
import type * as Sink from "effect/Sink"
import * as SinkModule from "effect/Sink"
import * as Stream from "effect/Stream"
import type * as Net from "node:net"
import type { Address } from "../../Address.ts"
import { type Connection, copy } from "../../Connection.ts"
import type * as OSError from "../../OSError.ts"
import type { SocketOptions } from "../../SocketOptions.ts"
import type { TlsInfo } from "../../Tls.ts"
import * as Defects from "../defects.ts"
import * as Errors from "../errors.ts"
import { nextConnectionId } from "../ids.ts"
import * as ReadInto from "../readInto.ts"
import type * as Settings from "../settings.ts"
import * as Sockopt from "../sockopt.ts"
import * as Closing from "./closing.ts"
import { Copy, remove, startCopy } from "./copy.ts"
import type { IdleSweep } from "./idle.ts"
import * as Reads from "./reads.ts"
import * as Socket from "./socket.ts"
import * as Unix from "./unix.ts"

type Resume<A, E> = (effect: Effect.Effect<A, E>) => void

type Batch = NonEmptyReadonlyArray<Uint8Array>

/** A read waiting for the next event: `pull`'s, resumed with the batch, or a Reader's, resumed when it is pushed. */
type ReadWaiter = Resume<Batch | void, OSError.ReadError | Cause.Done>

const doneEffect = Cause.done()
const voidResult: Effect.Effect<void> = Effect.void
const sinkEnd: Sink.End<void> = [undefined]
/** What Node reads at a time. */
const readBufferSize = 64 * 1024
/** A connection reads into a buffer of its own once it has received this much: one that stays quiet keeps none. */
const ownBufferAfter = 64 * 1024

/** What waits for a socket's 'drain': a suspended write, or a copy into it. */
type DrainWaiter = Resume<void, OSError.WriteError> | Copy

/** What lies under a TLS socket: the kernel's TCP socket, or a fake wire. */
export interface Transport {
  readonly remoteAddress: Address
  readonly localAddress: Address
  /** An RST. */
  readonly reset: () => void
  readonly options: () => SocketOptions
}

/** What a TLS connection has beside its socket. */
export interface Secure {
  readonly info: TlsInfo
  readonly transport: Transport
  /** The id it goes by: the plain connection's it continues (STARTTLS), or one its handshake was logged with. */
  readonly id: number
}

/** The Node implementation of `Connection`. */
export class NodeConnection implements Connection, Socket.Owner {
  readonly id: number
  readonly socket: Net.Socket
  readonly settings: Settings.Settings
  /** TLS: what the handshake agreed, and the transport under the socket. */
  readonly secure: Secure | undefined
  /** STARTTLS took this plain connection's socket: the TLS connection that has it now. */
  upgraded: NodeConnection | undefined = undefined
  /** What its PROXY protocol header said, on a server that reads one: the client is its `remoteAddress`. */
  readonly proxy: Connection["proxy"]
  // read side
  queue: Array<Uint8Array> | undefined = undefined
  queued = 0
  paused = false
  eof = false
  readError: OSError.ReadError | undefined = undefined
  readWaiter: ReadWaiter | undefined = undefined
  /** A Reader's buffer, when `readWaiter` is its read: the next chunk is pushed into it before the waiter resumes. */
  readTarget: ReadInto.Target | undefined = undefined
  received = 0
  // write side
  sent = 0
  drainWaiters: Array<DrainWaiter> | undefined = undefined
  /** The first error the socket emitted. */
  failure: unknown = undefined
  /** Set when the idle timeout closed the socket: what a waiting write fails with. */
  timedOut: OSError.WriteError | undefined = undefined
  /** While set, chunks go straight to the copy's destination: no queue, no Effect per chunk. */
  copy: Copy | undefined = undefined
  /** Copies from other connections into this one: they end when this socket closes. */
  inbound: Array<Copy> | undefined = undefined
  // lifecycle
  closed = false
  closeWaiters: Array<() => void> | undefined = undefined
  flushTimer: ReturnType<typeof setTimeout> | undefined = undefined
  /** When the last byte went either way, on the idle sweep's clock. */
  activeAt: number
  /** What else must know the socket closed: the listener that accepted it. */
  readonly forget: ((socket: Net.Socket) => void) | undefined
  readonly idle: IdleSweep | undefined
  /** A Unix socket's addresses, which Node does not report (shared by a listener's connections); none over TCP. */
  readonly unix: Unix.Ends | undefined
  /**
   * Where static-buffer reads land (`reads.ts`), once a copy runs on a connection that has received
   * `ownBufferAfter` bytes: a connection that stays idle, says little, or is read through `stream` costs no
   * buffer of its own. Dropped when a copy lends it to a pending write.
   */
  private readBuf: Buffer | undefined = undefined
  private triedOwnBuffer = false
  private local: Address | undefined = undefined
  private pullEffect: Effect.Effect<Batch, OSError.ReadError | Cause.Done> | undefined = undefined
  private streamValue: Stream.Stream<Uint8Array, OSError.ReadError> | undefined = undefined
  private sinkValue: Sink.Sink<void, Uint8Array | string, never, OSError.WriteError> | undefined = undefined

  constructor(
    socket: Net.Socket,
    settings: Settings.Settings,
    idle?: IdleSweep | undefined,
    forget?: ((socket: Net.Socket) => void) | undefined,
    unix?: Unix.Ends | undefined,
    secure?: Secure | undefined,
    proxy?: Connection["proxy"]
  ) {
    this.id = secure === undefined ? nextConnectionId() : secure.id
    this.socket = socket
    this.proxy = proxy
    this.settings = settings
    this.unix = unix
    this.secure = secure
    // node:tls decrypts into buffers of its own: static-buffer reads are not for TLS sockets
    this.triedOwnBuffer = secure !== undefined
    this.idle = idle
    this.activeAt = idle === undefined ? 0 : idle.now
    this.forget = forget
    Socket.own(socket, this)
    // TCP's options (TCP_NODELAY, keepalive) mean nothing on a Unix socket
    if (unix === undefined) Socket.applySettings(socket, settings)
    socket.resume()
    // Closed before it was wrapped: settle now, 'close' will not come again.
    if (socket.closed) this.onClose()
  }

  // Node caches the peer's address once read (`rememberPeer`, or on connect): built again on each call, not
  // kept a second time for every idle connection.
  get remoteAddress(): Address {
    if (this.proxy?.source !== undefined) return this.proxy.source
    if (this.unix !== undefined) return this.unix.remote
    if (this.secure !== undefined) return this.secure.transport.remoteAddress
    const socket = this.socket
    return Socket.toAddress(socket.remoteAddress, socket.remotePort, socket.remoteFamily)
  }

  // Unlike the peer's, Node forgets the socket's own address once its handle is gone: this one is kept.
  get localAddress(): Address {
    if (this.unix !== undefined) return this.unix.local
    if (this.secure !== undefined) return this.secure.transport.localAddress
    const socket = this.socket
    return this.local ??= Socket.toAddress(socket.localAddress, socket.localPort, socket.localFamily)
  }

  /** What its errors name: the peer, or a Unix socket's path (its peer is unnamed on one side). */
  get where(): Errors.Where {
    return this.unix !== undefined ? this.unix.path : this.remoteAddress
  }

  // --- events ----------------------------------------------------------------

  onData(chunk: Buffer): void {
    const copy = this.copy
    if (copy !== undefined) {
      // Only a copy reads into a buffer of its own: it is done with each chunk before the next read. What
      // `stream` hands out must be fresh memory anyway, and Node's own reads allocate it more cheaply than a
      // copy out of a reused buffer does (2.7x less server CPU at 100 KiB; bench/README.md).
      if (!this.triedOwnBuffer && this.received >= ownBufferAfter) {
        this.triedOwnBuffer = true
        Reads.readIntoOwnBuffer(this.socket)
      }
      this.received += chunk.length
      this.touch()
      return copy.send(chunk)
    }
    const room = this.settings.readLimit - this.queued
    if (chunk.length > room) {
      // Node reads 64 KiB at a time: what exceeds the read limit goes back to Node's stream, unread, until
      // the consumer makes room.
      this.pauseReading()
      this.socket.unshift(chunk.subarray(room))
      if (room <= 0) return
      chunk = chunk.subarray(0, room)
    }
    this.received += chunk.length
    this.touch()
    const resume = this.readWaiter
    if (resume !== undefined) {
      const target = this.readTarget
      this.readWaiter = this.readTarget = undefined
      return deliver(resume, target, [chunk])
    }
    ;(this.queue ??= []).push(chunk)
    this.queued += chunk.length
    if (this.queued >= this.settings.readLimit) this.pauseReading()
  }

  onRead(bytes: number, buffer: Buffer): boolean {
    const copy = this.copy
    const read = buffer.subarray(0, bytes)
    // A copy writes the bytes in place; whoever reads `stream` keeps what it gets: a copy of its own, as the
    // next read reuses the buffer.
    this.onData(copy === undefined ? Buffer.from(read) : read)
    // Still waiting in the destination's buffer: the write owns this read buffer now, the next read gets another.
    if (copy !== undefined && copy.target.socket.writableLength > 0) this.readBuf = undefined
    return !this.paused
  }

  readBuffer(): Buffer {
    return this.readBuf ??= Buffer.allocUnsafeSlow(Math.min(readBufferSize, this.settings.readLimit))
  }

  onEnd(): void {
    if (Socket.failedAtEnd(this.socket)) return // a reset after all: 'error' follows
    this.eof = true
    this.wakeReader()
  }

  onError(error: Error): void {
    if (this.failure === undefined) this.failure = error
    if (this.readError === undefined && !this.eof) this.readError = Errors.fromNode("read", error, this.where)
    this.wakeReader()
    this.failWriters()
  }

  onDrain(): void {
    this.settleDrainWaiters(undefined)
  }

  /** The idle sweep's check: no traffic either way for the idle timeout closes the socket. */
  checkIdle(now: number, limit: number, idleMillis: number): void {
    if (now - this.activeAt < limit || this.closed) return
    const socket = this.socket
    if (this.paused && !socket.writableNeedDrain) {
      // Our consumer is behind for its own reasons, not the peer: no traffic is our doing. Start again.
      // (Behind because its writes wait for this peer to read, the silence is the peer's: time it out.)
      this.activeAt = now
      return
    }
    const timedOut = Errors.idle(this.where, idleMillis)
    if (this.readError === undefined && !this.eof) this.readError = timedOut.read
    this.timedOut = timedOut.write
    this.wakeReader()
    socket.destroy()
  }

  onClose(): void {
    const socket = this.socket
    this.closed = true
    if (this.flushTimer !== undefined) clearTimeout(this.flushTimer)
    // Closed here (reset, scope closed, idle timeout) before the peer's FIN: a pending read must not hang.
    if (this.readError === undefined && !this.eof) this.readError = Errors.closedLocally(this.where)
    this.wakeReader()
    this.failWriters()
    const inbound = this.inbound
    if (inbound !== undefined) {
      this.inbound = undefined
      const error = this.writeFailure()
      for (let i = 0; i < inbound.length; i++) inbound[i].finish(error)
    }
    Socket.disown(socket)
    Closing.closed(socket)
    if (this.forget !== undefined) this.forget(socket)
    const waiters = this.closeWaiters
    if (waiters === undefined) return
    this.closeWaiters = undefined
    for (let i = 0; i < waiters.length; i++) waiters[i]()
  }

  // --- state -----------------------------------------------------------------

  /** A byte went one way or the other: the idle sweep starts counting again. */
  touch(): void {
    if (this.idle !== undefined) this.activeAt = this.idle.now
  }

  pauseReading(): void {
    if (this.paused) return
    this.paused = true
    this.socket.pause()
  }

  resumeReading(): void {
    if (!this.paused) return
    this.paused = false
    if (!this.socket.destroyed) this.socket.resume()
  }

  wakeReader(): void {
    if (this.copy !== undefined) this.copy.readEnded()
    const resume = this.readWaiter
    if (resume === undefined) return
    const target = this.readTarget
    this.readWaiter = this.readTarget = undefined
    if (this.readError !== undefined) return resume(Effect.fail(this.readError))
    deliver(resume, target, undefined)
  }

  /** The error for a write that was waiting when the socket failed or closed. */
  writeFailure(): OSError.WriteError {
    if (this.timedOut !== undefined) return this.timedOut
    const failure = this.failure as { readonly code?: unknown } | undefined
    const code = failure?.code
    if (failure === undefined || code === "ERR_STREAM_DESTROYED" || code === "ERR_STREAM_WRITE_AFTER_END") {
      return Errors.brokenPipe(this.where, "connection closed")
    }
    return Errors.fromNode("write", failure, this.where)
  }

  failWriters(): void {
    if (this.drainWaiters !== undefined && this.drainWaiters.length > 0) this.settleDrainWaiters(this.writeFailure())
  }

  /** Wakes what waits for 'drain': on `failure` writes fail and copies into this socket end with it. */
  settleDrainWaiters(failure: OSError.WriteError | undefined): void {
    const waiters = this.drainWaiters
    if (waiters === undefined || waiters.length === 0) return
    this.drainWaiters = undefined
    const result = failure === undefined ? voidResult : Effect.fail(failure)
    for (let i = 0; i < waiters.length; i++) {
      const waiter = waiters[i]
      if (!(waiter instanceof Copy)) waiter(result)
      else if (failure === undefined) waiter.drained()
      else waiter.finish(failure)
    }
  }

  waitForDrain(waiter: DrainWaiter): void {
    ;(this.drainWaiters ??= []).push(waiter)
  }

  unwritable(): OSError.WriteError | undefined {
    const socket = this.socket
    // closed by the idle timeout: what it met, as a write waiting then was told
    return socket.destroyed
      ? this.timedOut ?? Errors.brokenPipe(this.where, "connection closed")
      : socket.writableEnded
      ? Errors.brokenPipe(this.where, "write after end")
      : undefined
  }

  // --- reading ---------------------------------------------------------------

  take(): Batch {
    const batch = this.queue as unknown as Batch
    this.queue = undefined
    this.queued = 0
    this.resumeReading()
    return batch
  }

  /** One primitive per pull: resumed at once when something is queued, otherwise by the next event. */
  get pull(): Effect.Effect<Batch, OSError.ReadError | Cause.Done> {
    return this.pullEffect ??= Effect.callback<Batch, OSError.ReadError | Cause.Done>((resume) =>
      this.read(resume as ReadWaiter, undefined)
    )
  }

  /** The Reader's read (readInto.ts): `pull`, with the batch pushed into `target` instead of returned. */
  [ReadInto.key](target: ReadInto.Target): Effect.Effect<void, OSError.ReadError> {
    return Effect.callback<void, OSError.ReadError>((resume) => this.read(resume as ReadWaiter, target))
  }

  /** A read's registration: settled at once, or left waiting with a canceller. */
  private read(resume: ReadWaiter, target: ReadInto.Target | undefined): Effect.Effect<void> | undefined {
    if (this.upgraded !== undefined) resume(Effect.die(Defects.upgraded(this.id)))
    else if (this.queue !== undefined) deliver(resume, target, this.take())
    else if (this.readError !== undefined) resume(Effect.fail(this.readError))
    else if (this.eof) deliver(resume, target, undefined)
    // asyncio raises here too: two readers would each get some of the bytes, in no order anyone chose
    else if (this.readWaiter !== undefined || this.copy !== undefined) resume(Effect.die(Defects.secondReader(this.id)))
    else return this.wait(resume, target)
  }

  private wait(resume: ReadWaiter, target: ReadInto.Target | undefined): Effect.Effect<void> {
    this.readWaiter = resume
    this.readTarget = target
    // paused by a chunk larger than the room left, whose rest went back to Node's stream: read it now
    if (this.paused) this.resumeReading()
    return Effect.sync(() => {
      if (this.readWaiter === resume) this.readWaiter = this.readTarget = undefined
    })
  }

  get stream(): Stream.Stream<Uint8Array, OSError.ReadError> {
    return this.streamValue ??= Stream.fromPull(Effect.succeed(this.pull))
  }

  // --- writing ---------------------------------------------------------------

  get awaitDrain(): Effect.Effect<void, OSError.WriteError> {
    return Effect.callback<void, OSError.WriteError>((resume) => {
      const socket = this.socket
      if (socket.destroyed) return resume(Effect.fail(this.writeFailure()))
      if (!socket.writableNeedDrain) return resume(voidResult)
      this.waitForDrain(resume)
      return Effect.sync(() => remove(this.drainWaiters, resume))
    })
  }

  write(data: Uint8Array | string): Effect.Effect<void, OSError.WriteError> {
    return Effect.suspend(() => this.writeNow([data]))
  }

  /**
   * Writes a batch now; the returned effect waits for 'drain' only when Node's buffer is full. Node encodes a
   * string as UTF-8 itself: bytes cost no conversion, a string no copy of ours.
   */
  writeNow(chunks: ReadonlyArray<Uint8Array | string>): Effect.Effect<void, OSError.WriteError> {
    if (this.upgraded !== undefined) return Effect.die(Defects.upgraded(this.id))
    if (chunks.length === 0) return voidResult
    const error = this.unwritable()
    if (error !== undefined) return Effect.fail(error)
    const socket = this.socket
    this.touch()
    let ok: boolean
    if (chunks.length === 1) {
      const chunk = chunks[0]
      this.sent += typeof chunk === "string" ? Buffer.byteLength(chunk) : chunk.length
      ok = socket.write(chunk)
    } else {
      ok = true
      socket.cork()
      for (let i = 0; i < chunks.length; i++) {
        const chunk = chunks[i]
        this.sent += typeof chunk === "string" ? Buffer.byteLength(chunk) : chunk.length
        ok = socket.write(chunk) && ok
      }
      socket.uncork()
    }
    return ok ? voidResult : this.awaitDrain
  }

  writeAll(chunks: ReadonlyArray<Uint8Array | string>): Effect.Effect<void, OSError.WriteError> {
    return Effect.suspend(() => this.writeNow(chunks))
  }

  // Each pulled batch is written from inside the flatMap continuation: no extra effect per batch.
  get sink(): Sink.Sink<void, Uint8Array | string, never, OSError.WriteError> {
    return this.sinkValue ??= SinkModule.fromTransform((upstream) =>
      upstream.pipe(
        Effect.flatMap((chunks) => this.writeNow(chunks)),
        Effect.forever({ disableYield: true }),
        Pull.catchDone(() => Effect.succeed(sinkEnd))
      )
    )
  }

  get end(): Effect.Effect<void, OSError.WriteError> {
    return Closing.end(this)
  }

  get reset(): Effect.Effect<void> {
    return Effect.sync(() => this.resetNow())
  }

  /** An RST, on the TCP socket (or fake wire) under a TLS one. */
  resetNow(): void {
    if (this.upgraded !== undefined) return this.upgraded.resetNow()
    if (this.secure !== undefined) return this.secure.transport.reset()
    Closing.reset(this.socket)
  }

  get options(): Effect.Effect<SocketOptions> {
    return Effect.sync(() =>
      this.unix !== undefined
        ? Unix.options(this.socket)
        : this.secure !== undefined
        ? this.secure.transport.options()
        : Sockopt.read(this.socket)
    )
  }

  get tls(): TlsInfo | undefined {
    return this.secure?.info
  }

  get bytesRead(): Effect.Effect<number> {
    return Effect.sync(() => this.received)
  }

  get bytesWritten(): Effect.Effect<number> {
    return Effect.sync(() => this.sent)
  }

  // --- copying ---------------------------------------------------------------

  copyTo(destination: Connection): Effect.Effect<number, OSError.ReadError | OSError.WriteError> {
    if (!(destination instanceof NodeConnection)) return copy(this, destination)
    return Effect.callback<number, OSError.ReadError | OSError.WriteError>((resume) => {
      if (this.readWaiter !== undefined || this.copy !== undefined) {
        return resume(Effect.die(Defects.secondReader(this.id)))
      }
      const running = startCopy(this, destination, resume)
      return running === undefined ? undefined : Effect.sync(() => running.cleanup())
    })
  }

  // --- closing (see closing.ts) -----------------------------------------------

  shut(interrupted: boolean): void {
    if (this.upgraded !== undefined) return this.upgraded.shut(interrupted)
    Closing.shut(this, interrupted)
  }

  close(exit: Exit.Exit<unknown, unknown>): Effect.Effect<void> {
    return this.upgraded !== undefined ? this.upgraded.close(exit) : Closing.close(this, exit)
  }
}

/** Hands a read its batch, or the end (`undefined`): as its result, or pushed into its target first. */
const deliver = (resume: ReadWaiter, target: ReadInto.Target | undefined, batch: Batch | undefined): void => {
  if (target === undefined) return resume(batch === undefined ? doneEffect : Effect.succeed(batch))
  if (batch === undefined) target.end()
  else target.push(batch)
  resume(voidResult)
}
