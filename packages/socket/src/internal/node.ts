// The Node.js implementation of the Tcp service, on node:net (issue 3).
//
// Reading: the socket flows ('data' events) into a small array queue; when the
// queue holds `readLimit` bytes the socket is paused, and the next pull takes
// every queued chunk as one batch and resumes it. A pull that finds nothing
// waits for the next chunk, which is handed to it directly. No copies, no
// Effect per chunk beyond the one the batch is delivered in.
//
// Writing: `socket.write` returning true costs nothing more; false suspends the
// writer until 'drain'. Everything is owned by a Scope: closing it closes the
// socket and waits for its handle to be gone.
import type { NonEmptyReadonlyArray } from "effect/Array"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Pull from "effect/Pull"
import * as References from "effect/References"
import * as Scope from "effect/Scope"
import * as Sink from "effect/Sink"
import * as Stream from "effect/Stream"
import * as Net from "node:net"
import type { Address } from "../Address.ts"
import { format as formatAddress } from "../Address.ts"
import type { Connection } from "../Connection.ts"
import { copy } from "../Connection.ts"
import * as OSError from "../OSError.ts"
import type { SocketOptions } from "../SocketOptions.ts"
import type { ConnectOptions, ListenOptions, Server, SocketSettings, Tcp } from "../Tcp.ts"
import * as Descriptors from "./descriptors.ts"
import * as Logs from "./logs.ts"
import * as Sockopt from "./sockopt.ts"

const defaultReadLimit = 64 * 1024
const defaultBacklog = 100
const defaultShutdownGrace = Duration.seconds(10)
/** How long closing a connection waits for Node to flush what was written before it gives up. */
const flushOnCloseMillis = 5_000
/** The longest delay a Node timer holds (about 24.8 days); longer ones would overflow to 1 ms with a warning. */
const maxTimerMillis = 2 ** 31 - 1

const timerMillis = (duration: Duration.Input): number =>
  Math.min(maxTimerMillis, Math.max(1, Math.round(Duration.toMillis(duration))))

let nextConnectionId = 0

const ignore = (): void => {}

type Resume<A, E> = (effect: Effect.Effect<A, E>) => void

type Batch = NonEmptyReadonlyArray<Uint8Array>

const toAddress = (host: string | undefined, port: number | undefined, family: string | undefined): Address => ({
  host: host ?? "unknown",
  port: port ?? 0,
  family: family === "IPv6" ? "IPv6" : "IPv4"
})

/** Reads (and so makes Node cache) a socket's peer address, before a reset can take it from the kernel. */
const rememberPeer = (socket: Net.Socket): void => {
  void socket.remoteFamily
}

const syscallOf = (cause: unknown, fallback: string): string => {
  const syscall = (cause as { readonly syscall?: unknown } | null)?.syscall
  return typeof syscall === "string" ? syscall : fallback
}

const codeOf = (cause: unknown): unknown => (cause as { readonly code?: unknown } | null)?.code

const seconds = (millis: number): string => `${Number((millis / 1000).toFixed(3))}s`

// -----------------------------------------------------------------------------
// settings
// -----------------------------------------------------------------------------

export interface ResolvedSettings {
  readonly noDelay: boolean
  readonly keepAlive: boolean
  readonly keepAliveInitialDelay: number
  readonly readLimit: number
  /**
   * Node's writable highWaterMark: writes suspend once this much waits in Node's buffer. Node's default
   * (16 KiB) is below one read (64 KiB), so every large chunk would pause and resume the reader even when
   * the kernel took it at once; twice the read limit lets a read's worth through, and stays bounded.
   */
  readonly writeBufferSize: number
  readonly receiveBufferSize: number | undefined
  readonly sendBufferSize: number | undefined
  readonly idleTimeoutMillis: number | undefined
}

export const resolveSettings = (
  settings: SocketSettings,
  idleTimeout?: Duration.Input | undefined
): ResolvedSettings => {
  const keepAlive = settings.keepAlive
  const readLimit = settings.readLimit ?? defaultReadLimit
  return {
    noDelay: settings.noDelay ?? true,
    keepAlive: keepAlive !== undefined && keepAlive !== false,
    keepAliveInitialDelay: keepAlive === undefined || typeof keepAlive === "boolean" ? 0 : Duration.toMillis(keepAlive),
    readLimit: readLimit > 0 ? readLimit : defaultReadLimit,
    writeBufferSize: 2 * Math.max(readLimit > 0 ? readLimit : defaultReadLimit, defaultReadLimit),
    receiveBufferSize: settings.receiveBufferSize,
    sendBufferSize: settings.sendBufferSize,
    idleTimeoutMillis: idleTimeout === undefined ? undefined : timerMillis(idleTimeout)
  }
}

const applySettings = (socket: Net.Socket, settings: ResolvedSettings): void => {
  socket.setNoDelay(settings.noDelay)
  if (settings.keepAlive) socket.setKeepAlive(true, settings.keepAliveInitialDelay)
  if (settings.receiveBufferSize !== undefined) Sockopt.setReceiveBufferSize(socket, settings.receiveBufferSize)
  if (settings.sendBufferSize !== undefined) Sockopt.setSendBufferSize(socket, settings.sendBufferSize)
}

// -----------------------------------------------------------------------------
// connection
// -----------------------------------------------------------------------------
//
// One object per connection, its methods on the prototype, and the socket's
// listeners shared by every socket (they find their connection through a symbol
// on the socket): an idle connection costs a handful of fields, not dozens of
// closures. Effects are built when asked for.

const doneEffect = Cause.done()
const voidResult: Effect.Effect<void> = Effect.void
const sinkEnd: Sink.End<void> = [undefined]

const kConnection = Symbol.for("@effect-tcp/socket/NodeConnection")

interface Owned extends Net.Socket {
  [kConnection]?: NodeConnection
}

const connectionOf = (socket: Net.Socket): NodeConnection => (socket as Owned)[kConnection]!

function onData(this: Net.Socket, chunk: Buffer): void {
  connectionOf(this).onData(chunk)
}
function onEnd(this: Net.Socket): void {
  connectionOf(this).onEnd()
}
function onError(this: Net.Socket, error: Error): void {
  connectionOf(this).onError(error)
}
function onDrain(this: Net.Socket): void {
  connectionOf(this).onDrain()
}
function onClose(this: Net.Socket): void {
  connectionOf(this).onClose()
}
function onFinishThenDestroy(this: Net.Socket): void {
  this.destroy()
}
const destroy = (socket: Net.Socket): void => {
  socket.destroy()
}

/** Removes `item` from an array that may not exist yet. */
const remove = <A>(items: Array<A> | undefined, item: A): void => {
  if (items === undefined) return
  const index = items.indexOf(item)
  if (index >= 0) items.splice(index, 1)
}

/**
 * The idle timeout of a listener's connections: one timer ticks for all of them (a tenth of the timeout,
 * at most a second) and checks when each last saw a byte, instead of a Node timer per socket refreshed on
 * every read and write. A connection times out once it has been idle for the timeout, at most two ticks later.
 */
export class IdleSweep {
  /** The sweep's clock, read at each tick: what connections record as their last activity. */
  now = performance.now()
  private readonly timer: ReturnType<typeof setInterval>

  constructor(idleMillis: number, connections: () => Iterable<NodeConnection | undefined>) {
    const tickMillis = Math.min(1_000, Math.max(1, Math.round(idleMillis / 10)))
    // A recorded activity is up to a tick older than the real one: a connection is idle once the clock
    // is a tick past its timeout, never before.
    const limit = idleMillis + tickMillis
    this.timer = setInterval(() => {
      const now = this.now = performance.now()
      for (const connection of connections()) {
        if (connection !== undefined) connection.checkIdle(now, limit, idleMillis)
      }
    }, tickMillis)
    this.timer.unref()
  }

  stop(): void {
    clearInterval(this.timer)
  }
}

/** What waits for a socket's 'drain': a suspended write, or a copy into it. */
type DrainWaiter = Resume<void, OSError.WriteError> | Copy

/** A running `copyTo` between two Node connections: chunks go socket to socket in Node's callbacks. */
class Copy {
  readonly source: NodeConnection
  readonly target: NodeConnection
  readonly resume: Resume<number, OSError.ReadError | OSError.WriteError>
  copied = 0
  waitingForDrain = false
  done = false
  constructor(
    source: NodeConnection,
    target: NodeConnection,
    resume: Resume<number, OSError.ReadError | OSError.WriteError>
  ) {
    this.source = source
    this.target = target
    this.resume = resume
  }

  send(chunk: Uint8Array): void {
    const target = this.target
    this.copied += chunk.length
    target.sent += chunk.length
    target.touch()
    if (!target.socket.write(chunk) && !this.waitingForDrain) {
      // the destination's buffer is full: stop reading until it drains
      this.waitingForDrain = true
      target.waitForDrain(this)
      this.source.pauseReading()
    }
  }

  drained(): void {
    this.waitingForDrain = false
    this.source.resumeReading()
  }

  /** Reading ended (EOF) or failed. */
  readEnded(): void {
    const source = this.source
    if (source.readError !== undefined) {
      // when this socket failed writing (an echo), that is the copy's write error
      const failure = source.failure
      this.finish(Effect.fail(
        failure !== undefined && syscallOf(failure, "read") === "write" ? source.writeFailure() : source.readError
      ))
    } else if (source.eof) this.finish(Effect.succeed(this.copied))
  }

  finish(result: Effect.Effect<number, OSError.ReadError | OSError.WriteError>): void {
    if (this.done) return
    this.done = true
    this.cleanup()
    this.resume(result)
  }

  cleanup(): void {
    const { source, target } = this
    if (source.copy === this) source.copy = undefined
    remove(target.drainWaiters, this)
    if (target !== source) remove(target.inbound, this)
    if (this.waitingForDrain) this.drained()
  }
}

/** The Node implementation of `Connection`. */
export class NodeConnection implements Connection {
  readonly id = ++nextConnectionId
  readonly socket: Net.Socket
  readonly settings: ResolvedSettings
  // read side
  queue: Array<Uint8Array> | undefined = undefined
  queued = 0
  paused = false
  eof = false
  readError: OSError.ReadError | undefined = undefined
  readWaiter: Resume<Batch, OSError.ReadError | Cause.Done> | undefined = undefined
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
  private local: Address | undefined = undefined
  private pullEffect: Effect.Effect<Batch, OSError.ReadError | Cause.Done> | undefined = undefined
  private streamValue: Stream.Stream<Uint8Array, OSError.ReadError> | undefined = undefined
  private sinkValue: Sink.Sink<void, Uint8Array, never, OSError.WriteError> | undefined = undefined

  constructor(
    socket: Net.Socket,
    settings: ResolvedSettings,
    idle?: IdleSweep | undefined,
    forget?: ((socket: Net.Socket) => void) | undefined
  ) {
    this.socket = socket
    this.settings = settings
    this.idle = idle
    this.activeAt = idle === undefined ? 0 : idle.now
    this.forget = forget
    ;(socket as Owned)[kConnection] = this
    socket.on("data", onData)
    socket.on("end", onEnd)
    socket.on("error", onError)
    socket.on("close", onClose)
    socket.on("drain", onDrain)
    applySettings(socket, settings)
    socket.resume()
    // Closed before it was wrapped: settle now, 'close' will not come again.
    if (socket.closed) this.onClose()
  }

  // Node caches the peer's address once read (`rememberPeer`, or on connect): built again on each call, not
  // kept a second time for every idle connection.
  get remoteAddress(): Address {
    const socket = this.socket
    return toAddress(socket.remoteAddress, socket.remotePort, socket.remoteFamily)
  }

  // Unlike the peer's, Node forgets the socket's own address once its handle is gone: this one is kept.
  get localAddress(): Address {
    const socket = this.socket
    return this.local ??= toAddress(socket.localAddress, socket.localPort, socket.localFamily)
  }

  /** The peer, as errors name it. */
  where(detail?: string): { host: string; port: number; detail?: string } {
    const { host, port } = this.remoteAddress
    return detail === undefined ? { host, port } : { host, port, detail }
  }

  // --- events ----------------------------------------------------------------

  onData(chunk: Buffer): void {
    this.received += chunk.length
    this.touch()
    const copy = this.copy
    if (copy !== undefined) return copy.send(chunk)
    const resume = this.readWaiter
    if (resume !== undefined) {
      this.readWaiter = undefined
      resume(Effect.succeed([chunk]))
      return
    }
    ;(this.queue ??= []).push(chunk)
    this.queued += chunk.length
    if (this.queued >= this.settings.readLimit) this.pauseReading()
  }

  onEnd(): void {
    this.eof = true
    this.wakeReader()
  }

  onError(error: Error): void {
    if (this.failure === undefined) this.failure = error
    if (this.readError === undefined && !this.eof) {
      this.readError = OSError.fromSystemError(
        error,
        { syscall: syscallOf(error, "read"), ...this.where() },
        OSError.tagsOf.read
      )
    }
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
    const detail = `idle for ${seconds(idleMillis)}`
    if (this.readError === undefined && !this.eof) {
      this.readError = OSError.fromCode("ETIMEDOUT", { syscall: "read", ...this.where(detail) }, {
        allowed: OSError.tagsOf.read
      })
    }
    this.timedOut = OSError.fromCode("ETIMEDOUT", { syscall: "write", ...this.where(detail) }, {
      allowed: OSError.tagsOf.write
    })
    this.wakeReader()
    socket.destroy()
  }

  onClose(): void {
    const socket = this.socket
    this.closed = true
    if (this.flushTimer !== undefined) clearTimeout(this.flushTimer)
    if (this.readError === undefined && !this.eof) {
      // Closed here (reset, scope closed, idle timeout) before the peer's FIN: a pending read must not hang.
      this.readError = OSError.fromCode("ECONNABORTED", {
        syscall: "read",
        ...this.where("connection closed locally")
      }, { allowed: OSError.tagsOf.read })
    }
    this.wakeReader()
    this.failWriters()
    const inbound = this.inbound
    if (inbound !== undefined) {
      this.inbound = undefined
      const error = Effect.fail(this.writeFailure())
      for (let i = 0; i < inbound.length; i++) inbound[i].finish(error)
    }
    socket.off("data", onData)
    socket.off("end", onEnd)
    socket.off("error", onError)
    socket.off("close", onClose)
    socket.off("drain", onDrain)
    socket.off("finish", onFinishThenDestroy)
    socket.on("error", ignore)
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
    this.readWaiter = undefined
    resume(this.readError !== undefined ? Effect.fail(this.readError) : doneEffect)
  }

  brokenPipe(detail: string): OSError.WriteError {
    return OSError.fromCode("EPIPE", { syscall: "write", ...this.where(detail) }, { allowed: OSError.tagsOf.write })
  }

  /** The error for a write that was waiting when the socket failed or closed. */
  writeFailure(): OSError.WriteError {
    if (this.timedOut !== undefined) return this.timedOut
    const failure = this.failure
    if (failure === undefined) return this.brokenPipe("connection closed")
    const code = codeOf(failure)
    if (code === "ERR_STREAM_DESTROYED" || code === "ERR_STREAM_WRITE_AFTER_END") {
      return this.brokenPipe("connection closed")
    }
    return OSError.fromSystemError(failure, { syscall: "write", ...this.where() }, OSError.tagsOf.write)
  }

  failWriters(): void {
    if (this.drainWaiters !== undefined && this.drainWaiters.length > 0) {
      this.settleDrainWaiters(Effect.fail(this.writeFailure()))
    }
  }

  /** Wakes what waits for 'drain': on `failure` writes fail and copies into this socket end with it. */
  settleDrainWaiters(failure: Effect.Effect<never, OSError.WriteError> | undefined): void {
    const waiters = this.drainWaiters
    if (waiters === undefined || waiters.length === 0) return
    this.drainWaiters = undefined
    for (let i = 0; i < waiters.length; i++) {
      const waiter = waiters[i]
      if (waiter instanceof Copy) {
        if (failure === undefined) waiter.drained()
        else waiter.finish(failure)
      } else waiter(failure ?? voidResult)
    }
  }

  waitForDrain(waiter: DrainWaiter): void {
    ;(this.drainWaiters ??= []).push(waiter)
  }

  unwritable(): OSError.WriteError | undefined {
    const socket = this.socket
    return socket.destroyed
      ? this.brokenPipe("connection closed")
      : socket.writableEnded
      ? this.brokenPipe("write after end")
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
    return this.pullEffect ??= Effect.callback<Batch, OSError.ReadError | Cause.Done>((resume) => {
      if (this.queue !== undefined) return resume(Effect.succeed(this.take()))
      if (this.readError !== undefined) return resume(Effect.fail(this.readError))
      if (this.eof) return resume(doneEffect)
      this.readWaiter = resume
      return Effect.sync(() => {
        this.readWaiter = undefined
      })
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

  write(bytes: Uint8Array): Effect.Effect<void, OSError.WriteError> {
    return Effect.suspend(() => this.writeNow([bytes]))
  }

  /** Writes a batch now; the returned effect waits for 'drain' only when Node's buffer is full. */
  writeNow(chunks: ReadonlyArray<Uint8Array>): Effect.Effect<void, OSError.WriteError> {
    if (chunks.length === 0) return voidResult
    const error = this.unwritable()
    if (error !== undefined) return Effect.fail(error)
    const socket = this.socket
    this.touch()
    let ok: boolean
    if (chunks.length === 1) {
      this.sent += chunks[0].length
      ok = socket.write(chunks[0])
    } else {
      ok = true
      socket.cork()
      for (let i = 0; i < chunks.length; i++) {
        this.sent += chunks[i].length
        ok = socket.write(chunks[i]) && ok
      }
      socket.uncork()
    }
    return ok ? voidResult : this.awaitDrain
  }

  writeAll(chunks: ReadonlyArray<Uint8Array>): Effect.Effect<void, OSError.WriteError> {
    return Effect.suspend(() => this.writeNow(chunks))
  }

  // Each pulled batch is written from inside the flatMap continuation: no extra effect per batch.
  get sink(): Sink.Sink<void, Uint8Array, never, OSError.WriteError> {
    return this.sinkValue ??= Sink.fromTransform((upstream) =>
      upstream.pipe(
        Effect.flatMap((chunks) => this.writeNow(chunks)),
        Effect.forever({ disableYield: true }),
        Pull.catchDone(() => Effect.succeed(sinkEnd))
      )
    )
  }

  get end(): Effect.Effect<void, OSError.WriteError> {
    return Effect.callback<void, OSError.WriteError>((resume) => {
      const socket = this.socket
      if (socket.writableFinished) return resume(voidResult)
      if (socket.destroyed) return resume(Effect.fail(this.writeFailure()))
      const cleanup = () => {
        socket.off("finish", onFinish)
        socket.off("close", onGone)
      }
      const onFinish = () => {
        cleanup()
        resume(voidResult)
      }
      const onGone = () => {
        cleanup()
        resume(socket.writableFinished ? voidResult : Effect.fail(this.writeFailure()))
      }
      socket.on("finish", onFinish)
      socket.on("close", onGone)
      if (!socket.writableEnded) socket.end()
      return Effect.sync(cleanup)
    })
  }

  get reset(): Effect.Effect<void> {
    return Effect.sync(() => {
      if (!this.socket.destroyed) this.socket.resetAndDestroy()
    })
  }

  get options(): Effect.Effect<SocketOptions> {
    return Effect.sync(() => Sockopt.read(this.socket))
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
      const out = destination.socket
      if (out.destroyed || out.writableEnded) return resume(Effect.fail(destination.writeFailure()))
      const running = new Copy(this, destination, resume)
      if (destination !== this) (destination.inbound ??= []).push(running)
      // what was read ahead first, then straight from the socket
      const queued = this.queue
      this.queue = undefined
      this.queued = 0
      this.copy = running
      if (queued !== undefined) {
        for (let i = 0; i < queued.length && !running.done; i++) running.send(queued[i])
      }
      if (!running.waitingForDrain) this.resumeReading()
      if (this.readError !== undefined || this.eof) running.readEnded()
      return Effect.sync(() => running.cleanup())
    })
  }

  // --- closing ---------------------------------------------------------------

  /**
   * Starts closing: at once on interruption or when nothing of ours waits in Node's buffer (the kernel
   * flushes its own), otherwise once Node has flushed, for a bounded time.
   */
  shut(interrupted: boolean): void {
    const socket = this.socket
    if (this.closed || socket.destroyed) return
    if (interrupted || socket.writableLength === 0) {
      socket.destroy()
      return
    }
    this.flushTimer ??= setTimeout(destroy, flushOnCloseMillis, socket)
    socket.on("finish", onFinishThenDestroy)
    if (!socket.writableEnded) socket.end()
  }

  /** The scope finalizer: closes the socket (at once on interruption) and waits until its handle is gone. */
  close(exit: Exit.Exit<unknown, unknown>): Effect.Effect<void> {
    return Effect.callback<void>((resume) => {
      if (this.closed) return resume(voidResult)
      ;(this.closeWaiters ??= []).push(() => resume(voidResult))
      this.shut(Exit.hasInterrupts(exit))
    })
  }
}

// -----------------------------------------------------------------------------
// connect
// -----------------------------------------------------------------------------

const connect = Effect.fn("Tcp.connect")(function*(options: ConnectOptions) {
  const host = options.host ?? "127.0.0.1"
  const port = options.port
  const settings = resolveSettings(options)
  const timeoutMillis = options.timeout === undefined ? undefined : timerMillis(options.timeout)
  let connection: NodeConnection | undefined
  // The finalizer comes first, so no interruption can leave an open socket unowned.
  yield* Effect.addFinalizer((exit) => connection === undefined ? Effect.void : connection.close(exit))
  return yield* Effect.callback<Connection, OSError.ConnectError>((resume) => {
    let error: OSError.ConnectError | undefined
    let cancelled: (() => void) | undefined
    const socket = Net.createConnection({
      host,
      port,
      allowHalfOpen: true,
      // a Duplex option net.Socket passes on (@types/node leaves it out)
      ...({ writableHighWaterMark: settings.writeBufferSize } as {}),
      noDelay: settings.noDelay,
      keepAlive: settings.keepAlive,
      keepAliveInitialDelay: settings.keepAliveInitialDelay,
      ...(options.localAddress !== undefined ? { localAddress: options.localAddress } : {})
    })
    const timer = timeoutMillis === undefined ? undefined : setTimeout(() => {
      error = OSError.fromCode("ETIMEDOUT", {
        syscall: "connect",
        host,
        port,
        detail: `connect timed out after ${seconds(timeoutMillis)}`
      }, { allowed: OSError.tagsOf.connect })
      socket.destroy()
    }, timeoutMillis)
    const cleanup = () => {
      if (timer !== undefined) clearTimeout(timer)
      socket.off("connect", onConnect)
      socket.off("error", onError)
      socket.off("close", onClose)
    }
    function onConnect() {
      cleanup()
      connection = new NodeConnection(socket, settings)
      // a client's own address (its ephemeral port) is worth keeping: read both now, while the kernel has them
      void connection.localAddress
      rememberPeer(socket)
      resume(Effect.succeed(connection))
    }
    function onError(cause: Error) {
      error ??= OSError.fromSystemError(
        cause,
        { syscall: syscallOf(cause, "connect"), host, port },
        OSError.tagsOf.connect
      )
    }
    function onClose() {
      // Failed, timed out or cancelled: report only once the handle is gone.
      cleanup()
      socket.on("error", ignore)
      if (cancelled !== undefined) return cancelled()
      resume(Effect.fail(
        error ??
          OSError.fromCode("ECONNABORTED", { syscall: "connect", host, port }, { allowed: OSError.tagsOf.connect })
      ))
    }
    socket.on("connect", onConnect)
    socket.on("error", onError)
    socket.on("close", onClose)
    return Effect.callback<void>((resumeCancel) => {
      cancelled = () => resumeCancel(Effect.void)
      if (timer !== undefined) clearTimeout(timer)
      socket.destroy()
    })
  })
})

// -----------------------------------------------------------------------------
// listen
// -----------------------------------------------------------------------------

interface AcceptWaiter {
  readonly deliver: (socket: Net.Socket) => void
  readonly fail: (error: OSError.AcceptError) => void
  readonly closed: () => void
}

const listen = Effect.fn("Tcp.listen")(function*(options: ListenOptions | undefined) {
  const host = options?.host ?? "127.0.0.1"
  const requestedPort = options?.port ?? 0
  const backlog = options?.backlog ?? defaultBacklog
  const graceMillis = timerMillis(options?.shutdownGrace ?? defaultShutdownGrace)
  const settings = resolveSettings(options ?? {}, options?.idleTimeout)
  const context = yield* Effect.context<never>()
  const runFork = Effect.runForkWith(context)

  const server = Net.createServer({
    allowHalfOpen: true,
    pauseOnConnect: true,
    highWaterMark: settings.writeBufferSize
  })
  // Node closes connections beyond maxConnections at once ('drop'); the descriptor budget caps it too.
  const maxConnections = options?.maxConnections
  const descriptors = Descriptors.budget()
  const outOfDescriptors = descriptors !== undefined &&
    (maxConnections === undefined || descriptors.connections < maxConnections)
  const cap = outOfDescriptors ? descriptors.connections : maxConnections
  if (cap !== undefined) server.maxConnections = cap

  let address: Address = { host, port: requestedPort, family: Net.isIPv6(host) ? "IPv6" : "IPv4" }
  let listening = false
  let closing = false
  let serverClosed = false
  let accepted = 0
  let rejected = 0
  const pending: Array<Net.Socket> = []
  const live = new Set<Net.Socket>()
  let waiters: Array<AcceptWaiter> = []
  /** The running `serve` calls: each takes connections as they are accepted. */
  const serving: Array<(socket: Net.Socket) => void> = []
  let turn = 0
  let onIdle: (() => void) | undefined
  let onDrained: (() => void) | undefined

  /** The fibers of running handlers (`serve`): interrupted once the grace period is over. */
  const handling = new Set<Fiber.Fiber<unknown, unknown>>()

  const logAcceptError = (error: OSError.AcceptError): Effect.Effect<void> =>
    Logs.acceptFailure(error, formatAddress(address))

  const forget = (socket: Net.Socket): void => {
    live.delete(socket)
    remove(pending, socket)
    if (live.size === 0 && onDrained !== undefined) onDrained()
  }

  function onSocketClose(this: Net.Socket): void {
    this.off("close", onSocketClose)
    forget(this)
  }

  const idle = settings.idleTimeoutMillis === undefined ? undefined : new IdleSweep(
    settings.idleTimeoutMillis,
    function*() {
      for (const socket of live) yield (socket as Owned)[kConnection]
    }
  )

  /** Wraps an accepted socket: the connection takes over its listeners (one of each a socket). */
  const wrap = (socket: Net.Socket): NodeConnection => {
    socket.off("error", ignore)
    socket.off("close", onSocketClose)
    return new NodeConnection(socket, settings, idle, forget)
  }

  function onConnection(socket: Net.Socket): void {
    accepted++
    // Node caches the addresses on first read: read them now, before a reset can take them from the kernel.
    // (A peer that reset before accept() returned is already unknown: its address reads as unknown:0.)
    rememberPeer(socket)
    live.add(socket)
    if (closing) {
      socket.on("error", ignore)
      socket.destroy()
      return
    }
    // A running `serve` takes it at once (several take turns): no Effect between accept and handler.
    if (serving.length > 0) return serving[turn++ % serving.length](socket)
    socket.on("error", ignore)
    socket.on("close", onSocketClose)
    const waiter = waiters.shift()
    if (waiter !== undefined) waiter.deliver(socket)
    else pending.push(socket)
  }

  function onServerError(cause: Error): void {
    if (!listening) return
    const error = OSError.fromSystemError(
      cause,
      { syscall: syscallOf(cause, "accept"), ...address },
      OSError.tagsOf.accept
    )
    const waiter = waiters.shift()
    if (waiter !== undefined) waiter.fail(error)
    else runFork(logAcceptError(error))
  }

  // Turned away for want of descriptors: logged as the EMFILE it avoids, at most once a second.
  let droppedUnlogged = 0
  let lastDropLog = 0
  function onDrop(): void {
    rejected++
    if (!outOfDescriptors || (maxConnections !== undefined && live.size >= maxConnections)) return
    droppedUnlogged++
    const now = Date.now()
    if (now - lastDropLog < 1_000) return
    lastDropLog = now
    const error = OSError.fromCode("EMFILE", {
      syscall: "accept",
      ...address,
      detail: `${droppedUnlogged} connection(s) turned away: ${cap} fit in the limit of ${descriptors.limit} open files`
    }, { allowed: OSError.tagsOf.accept })
    droppedUnlogged = 0
    runFork(logAcceptError(error))
  }

  function onServerClose(): void {
    serverClosed = true
    if (live.size === 0 && onDrained !== undefined) onDrained()
  }

  server.on("connection", onConnection)
  server.on("error", onServerError)
  server.on("drop", onDrop)
  server.on("close", onServerClose)

  /** Stops accepting at once: the listening socket closes, connections not yet taken are closed. */
  const stopAccepting = (): void => {
    if (closing) return
    closing = true
    // ('close' follows once every connection is gone, also when never listening.)
    server.close()
    const stopped = waiters
    waiters = []
    for (const waiter of stopped) waiter.closed()
    for (const socket of pending.splice(0)) socket.destroy()
  }

  const shutdown = Effect.suspend(() => {
    stopAccepting()
    return Effect.callback<void>((resume) => {
      // Running handlers may finish within the grace period.
      if (handling.size === 0) return resume(Effect.void)
      const timer = setTimeout(() => resume(Effect.void), graceMillis)
      onIdle = () => {
        clearTimeout(timer)
        resume(Effect.void)
      }
      return Effect.sync(() => clearTimeout(timer))
    }).pipe(
      // Then the rest are interrupted, which closes their connections.
      Effect.andThen(Effect.suspend(() => Fiber.interruptAll(Array.from(handling)))),
      // Every socket still open (accepted but unclaimed, or owned elsewhere) is closed.
      Effect.andThen(Effect.callback<void>((resume) => {
        // Node emits the server's 'close' before libuv has released its handle; two turns
        // of the event loop later the handle is gone whichever phase closed it.
        const released = (): void => {
          setImmediate(() => setImmediate(() => resume(Effect.void)))
        }
        for (const socket of live) socket.destroy()
        if (live.size === 0 && serverClosed) return released()
        onDrained = () => {
          if (live.size === 0 && serverClosed) released()
        }
      })),
      Effect.ensuring(Effect.sync(() => {
        idle?.stop()
        server.off("connection", onConnection)
        server.off("drop", onDrop)
        server.off("close", onServerClose)
        server.off("error", onServerError)
        server.on("error", ignore)
      }))
    )
  })
  yield* Effect.addFinalizer(() => shutdown)

  address = yield* Effect.callback<Address, OSError.ListenError>((resume) => {
    const cleanup = () => {
      server.off("listening", onListening)
      server.off("error", onListenError)
    }
    function onListening() {
      cleanup()
      listening = true
      const bound = server.address() as Net.AddressInfo
      resume(
        Effect.succeed({ host: bound.address, port: bound.port, family: bound.family === "IPv6" ? "IPv6" : "IPv4" })
      )
    }
    function onListenError(cause: Error) {
      cleanup()
      resume(Effect.fail(
        OSError.fromSystemError(
          cause,
          { syscall: syscallOf(cause, "listen"), host, port: requestedPort },
          OSError.tagsOf.listen
        )
      ))
    }
    server.on("listening", onListening)
    server.on("error", onListenError)
    server.listen({
      host,
      port: requestedPort,
      backlog,
      ...(options?.reusePort === true ? { reusePort: true } : {})
    })
    return Effect.sync(() => {
      cleanup()
      // Interrupted while a host name was being looked up: close it if it starts listening anyway.
      if (!server.listening) server.once("listening", () => server.close())
    })
  })

  const closedError = (): OSError.AcceptError =>
    OSError.fromCode("EBADF", { syscall: "accept", ...address, detail: "server closed" }, {
      allowed: OSError.tagsOf.accept
    })

  /** Waits for the next connection and hands it to `use` synchronously, so it is owned before anything can interrupt. */
  const take = <A>(
    use: (socket: Net.Socket) => A,
    onClosed: () => Effect.Effect<A, OSError.AcceptError>
  ): Effect.Effect<A, OSError.AcceptError> =>
    Effect.callback<A, OSError.AcceptError>((resume) => {
      const socket = pending.shift()
      if (socket !== undefined) return resume(Effect.succeed(use(socket)))
      if (closing) return resume(onClosed())
      const waiter: AcceptWaiter = {
        deliver: (socket) => resume(Effect.succeed(use(socket))),
        fail: (error) => resume(Effect.fail(error)),
        closed: () => resume(onClosed())
      }
      waiters.push(waiter)
      return Effect.sync(() => remove(waiters, waiter))
    })

  const accept: Effect.Effect<Connection, OSError.AcceptError, Scope.Scope> = Effect.gen(function*() {
    let connection: NodeConnection | undefined
    yield* Effect.addFinalizer((exit) => connection === undefined ? Effect.void : connection.close(exit))
    return yield* take((socket) => connection = wrap(socket), () => Effect.fail(closedError()))
  })

  // Each handler runs in a fiber of its own, forked as the connection is accepted, with the connection's
  // log annotations in its context. What ends the fiber closes the socket (its observer): an idle
  // connection holds its socket, one object and the handler's own fiber, nothing more.
  const serve = <E, R>(
    handler: (connection: Connection) => Effect.Effect<unknown, E, R>
  ): Effect.Effect<never, never, R> =>
    Effect.suspend(() => {
      // each run of the returned effect serves on its own
      let start: ((socket: Net.Socket) => void) | undefined
      return Effect.flatMap(Effect.context<R>(), (context) => {
        if (closing) return Effect.interrupt
        const annotations = Context.get(context, References.CurrentLogAnnotations)
        start = (socket: Net.Socket): void => {
          const connection = wrap(socket)
          const fiberContext = Context.add(context, References.CurrentLogAnnotations, {
            ...annotations,
            connectionId: connection.id,
            peer: formatAddress(connection.remoteAddress)
          })
          const fiber = Effect.runForkWith(fiberContext)(handler(connection))
          const done = (exit: Exit.Exit<unknown, unknown>): void => {
            handling.delete(fiber)
            connection.shut(Exit.hasInterrupts(exit))
            if (Exit.isFailure(exit)) Effect.runForkWith(fiberContext)(Logs.handlerFailure(exit.cause))
            if (handling.size === 0 && onIdle !== undefined) onIdle()
          }
          handling.add(fiber)
          fiber.addObserver(done)
        }
        // the connections that came before, then each as it comes (accept errors are logged by the listener)
        for (const socket of pending.splice(0)) start(socket)
        serving.push(start)
        return Effect.never
      }).pipe(
        // Whoever stops serving stops the listener: new connections are refused at once. (Around the whole
        // of it: an interruption while the handlers of earlier connections start must find it in place.)
        Effect.onInterrupt(() =>
          Effect.sync(() => {
            if (start !== undefined) remove(serving, start)
            stopAccepting()
          })
        )
      )
    })

  const server_: Server = {
    address,
    accept,
    serve,
    stats: Effect.sync(() => ({ active: live.size, accepted, rejected }))
  }
  return server_
})

export const make: Effect.Effect<Tcp["Service"]> = Effect.succeed({
  connect,
  listen: (options?: ListenOptions) => listen(options)
})
