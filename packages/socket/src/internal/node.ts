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
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as FiberSet from "effect/FiberSet"
import * as Pull from "effect/Pull"
import * as Scope from "effect/Scope"
import * as Sink from "effect/Sink"
import * as Stream from "effect/Stream"
import * as Net from "node:net"
import type { Address } from "../Address.ts"
import { format as formatAddress } from "../Address.ts"
import type { Connection } from "../Connection.ts"
import { copy } from "../Connection.ts"
import * as OSError from "../OSError.ts"
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

/** Reads (and so makes Node cache) a socket's addresses. */
const rememberAddresses = (socket: Net.Socket): void => {
  socket.address()
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

interface Wrapped {
  readonly connection: Connection
  /** The scope finalizer: closes the socket (at once on interruption) and waits until its handle is gone. */
  readonly close: (exit: Exit.Exit<unknown, unknown>) => Effect.Effect<void>
}

const doneEffect = Cause.done()

/** What `copyTo` needs of a Node connection to write to its socket directly. */
interface Destination {
  readonly socket: Net.Socket
  readonly sent: (bytes: number) => void
  readonly writeFailure: () => OSError.WriteError
}

const destinations = new WeakMap<Connection, Destination>()

const sinkEnd: Sink.End<void> = [undefined]

/** Wraps a connected socket; applies the settings, starts reading. */
export const makeConnection = (socket: Net.Socket, settings: ResolvedSettings): Wrapped => {
  const id = ++nextConnectionId
  const remoteAddress = toAddress(socket.remoteAddress, socket.remotePort, socket.remoteFamily)
  const localAddress = toAddress(socket.localAddress, socket.localPort, socket.localFamily)
  const where = { host: remoteAddress.host, port: remoteAddress.port }
  const readLimit = settings.readLimit
  const idleMillis = settings.idleTimeoutMillis

  // read side
  let queue: Array<Uint8Array> = []
  let queued = 0
  let paused = false
  let eof = false
  let readError: OSError.ReadError | undefined
  let readWaiter: Resume<Batch, OSError.ReadError | Cause.Done> | undefined
  let bytesRead = 0
  // write side
  let bytesWritten = 0
  let drainWaiters: Array<Resume<void, OSError.WriteError>> = []
  let failure: unknown
  /** Set when the idle timeout closed the socket: what a waiting write fails with. */
  let timedOut: OSError.WriteError | undefined
  // copy side (copyTo): while set, chunks go straight to the destination: no queue, no Effect per chunk
  let forward: ((chunk: Buffer) => void) | undefined
  /** Ends a running copy when reading ends (EOF) or fails. */
  let copyDone: (() => void) | undefined
  // lifecycle
  let closed = false
  let closeWaiters: Array<() => void> = []

  const brokenPipe = (detail: string): OSError.WriteError =>
    OSError.fromCode("EPIPE", { syscall: "write", ...where, detail }, { allowed: OSError.tagsOf.write })

  /** The error for a write that was waiting when the socket failed or closed. */
  const writeFailure = (): OSError.WriteError => {
    if (timedOut !== undefined) return timedOut
    if (failure === undefined) return brokenPipe("connection closed")
    const code = codeOf(failure)
    if (code === "ERR_STREAM_DESTROYED" || code === "ERR_STREAM_WRITE_AFTER_END") {
      return brokenPipe("connection closed")
    }
    return OSError.fromSystemError(failure, { syscall: "write", ...where }, OSError.tagsOf.write)
  }

  const wakeReader = (): void => {
    if (copyDone !== undefined) copyDone()
    const resume = readWaiter
    if (resume === undefined) return
    readWaiter = undefined
    resume(readError !== undefined ? Effect.fail(readError) : doneEffect)
  }

  const failWriters = (): void => {
    if (drainWaiters.length === 0) return
    const waiters = drainWaiters
    drainWaiters = []
    const error = Effect.fail(writeFailure())
    for (let i = 0; i < waiters.length; i++) waiters[i](error)
  }

  function onData(chunk: Buffer): void {
    bytesRead += chunk.length
    if (forward !== undefined) return forward(chunk)
    const resume = readWaiter
    if (resume !== undefined) {
      readWaiter = undefined
      resume(Effect.succeed([chunk]))
      return
    }
    queue.push(chunk)
    queued += chunk.length
    if (queued >= readLimit && !paused) {
      paused = true
      socket.pause()
    }
  }

  function onEnd(): void {
    eof = true
    wakeReader()
  }

  function onError(error: Error): void {
    if (failure === undefined) failure = error
    if (readError === undefined && !eof) {
      readError = OSError.fromSystemError(error, { syscall: syscallOf(error, "read"), ...where }, OSError.tagsOf.read)
    }
    wakeReader()
    failWriters()
  }

  function onDrain(): void {
    if (drainWaiters.length === 0) return
    const waiters = drainWaiters
    drainWaiters = []
    for (let i = 0; i < waiters.length; i++) waiters[i](Effect.void)
  }

  function onTimeout(): void {
    if (paused && !socket.writableNeedDrain) {
      // Our consumer is behind for its own reasons, not the peer: no traffic is our doing. Arm the timer again.
      // (Behind because its writes wait for this peer to read, the silence is the peer's: time it out.)
      socket.setTimeout(idleMillis!)
      return
    }
    const detail = `idle for ${seconds(idleMillis!)}`
    if (readError === undefined && !eof) {
      readError = OSError.fromCode("ETIMEDOUT", { syscall: "read", ...where, detail }, { allowed: OSError.tagsOf.read })
    }
    timedOut = OSError.fromCode("ETIMEDOUT", { syscall: "write", ...where, detail }, { allowed: OSError.tagsOf.write })
    wakeReader()
    socket.destroy()
  }

  function onFinishThenDestroy(): void {
    socket.destroy()
  }

  function onClose(): void {
    closed = true
    if (readError === undefined && !eof) {
      // Closed here (reset, scope closed, idle timeout) before the peer's FIN: a pending read must not hang.
      readError = OSError.fromCode("ECONNABORTED", { syscall: "read", ...where, detail: "connection closed locally" }, {
        allowed: OSError.tagsOf.read
      })
    }
    wakeReader()
    failWriters()
    socket.off("data", onData)
    socket.off("end", onEnd)
    socket.off("error", onError)
    socket.off("close", onClose)
    socket.off("drain", onDrain)
    socket.off("timeout", onTimeout)
    socket.off("finish", onFinishThenDestroy)
    socket.on("error", ignore)
    const waiters = closeWaiters
    closeWaiters = []
    for (let i = 0; i < waiters.length; i++) waiters[i]()
  }

  // --- reading ---------------------------------------------------------------

  const take = (): Batch => {
    const batch = queue as unknown as Batch
    queue = []
    queued = 0
    if (paused) {
      paused = false
      if (!socket.destroyed) socket.resume()
    }
    return batch
  }

  const cancelRead = Effect.sync(() => {
    readWaiter = undefined
  })

  // One primitive per pull: resumed at once when something is queued (no suspension),
  // otherwise by the next 'data', 'end', 'error' or 'close'.
  const pull = Effect.callback<Batch, OSError.ReadError | Cause.Done>((resume) => {
    if (queue.length > 0) return resume(Effect.succeed(take()))
    if (readError !== undefined) return resume(Effect.fail(readError))
    if (eof) return resume(doneEffect)
    readWaiter = resume
    return cancelRead
  })

  // Built on first use: a connection that is only copied (an echo) never needs them, and idle connections add up.
  let stream: Stream.Stream<Uint8Array, OSError.ReadError> | undefined
  const makeStream = (): Stream.Stream<Uint8Array, OSError.ReadError> => Stream.fromPull(Effect.succeed(pull))

  // --- writing ---------------------------------------------------------------

  const awaitDrain = Effect.callback<void, OSError.WriteError>((resume) => {
    if (socket.destroyed) return resume(Effect.fail(writeFailure()))
    if (!socket.writableNeedDrain) return resume(Effect.void)
    drainWaiters.push(resume)
    return Effect.sync(() => {
      const index = drainWaiters.indexOf(resume)
      if (index >= 0) drainWaiters.splice(index, 1)
    })
  })

  const unwritable = (): OSError.WriteError | undefined =>
    socket.destroyed
      ? brokenPipe("connection closed")
      : socket.writableEnded
      ? brokenPipe("write after end")
      : undefined

  const write = (bytes: Uint8Array): Effect.Effect<void, OSError.WriteError> =>
    Effect.suspend(() => {
      const error = unwritable()
      if (error !== undefined) return Effect.fail(error)
      bytesWritten += bytes.length
      return socket.write(bytes) ? Effect.void : awaitDrain
    })

  /** Writes a batch now; the returned effect waits for 'drain' only when Node's buffer is full. */
  const writeNow = (chunks: ReadonlyArray<Uint8Array>): Effect.Effect<void, OSError.WriteError> => {
    if (chunks.length === 0) return Effect.void
    const error = unwritable()
    if (error !== undefined) return Effect.fail(error)
    let ok: boolean
    if (chunks.length === 1) {
      bytesWritten += chunks[0].length
      ok = socket.write(chunks[0])
    } else {
      ok = true
      socket.cork()
      for (let i = 0; i < chunks.length; i++) {
        bytesWritten += chunks[i].length
        ok = socket.write(chunks[i]) && ok
      }
      socket.uncork()
    }
    return ok ? Effect.void : awaitDrain
  }

  const writeAll = (chunks: ReadonlyArray<Uint8Array>): Effect.Effect<void, OSError.WriteError> =>
    Effect.suspend(() => writeNow(chunks))

  // Each pulled batch is written from inside the flatMap continuation: no extra effect per batch.
  let sink: Sink.Sink<void, Uint8Array, never, OSError.WriteError> | undefined
  const makeSink = (): Sink.Sink<void, Uint8Array, never, OSError.WriteError> =>
    Sink.fromTransform((upstream) =>
      upstream.pipe(
        Effect.flatMap(writeNow),
        Effect.forever({ disableYield: true }),
        Pull.catchDone(() => Effect.succeed(sinkEnd))
      )
    )

  const end = Effect.callback<void, OSError.WriteError>((resume) => {
    if (socket.writableFinished) return resume(Effect.void)
    if (socket.destroyed) return resume(Effect.fail(writeFailure()))
    const cleanup = () => {
      socket.off("finish", onFinish)
      socket.off("close", onGone)
    }
    const onFinish = () => {
      cleanup()
      resume(Effect.void)
    }
    const onGone = () => {
      cleanup()
      resume(socket.writableFinished ? Effect.void : Effect.fail(writeFailure()))
    }
    socket.on("finish", onFinish)
    socket.on("close", onGone)
    if (!socket.writableEnded) socket.end()
    return Effect.sync(cleanup)
  })

  const reset = Effect.sync(() => {
    if (!socket.destroyed) socket.resetAndDestroy()
  })

  // --- closing ---------------------------------------------------------------

  const close = (exit: Exit.Exit<unknown, unknown>): Effect.Effect<void> =>
    Effect.callback<void>((resume) => {
      if (closed) return resume(Effect.void)
      closeWaiters.push(() => resume(Effect.void))
      if (socket.destroyed) return
      if (Exit.hasInterrupts(exit) || socket.writableLength === 0) {
        // Nothing of ours is waiting in Node's buffer (the kernel flushes its own): close now.
        socket.destroy()
        return
      }
      // Let Node flush what was written, for a bounded time, then close.
      const timer = setTimeout(() => socket.destroy(), flushOnCloseMillis)
      closeWaiters.push(() => clearTimeout(timer))
      socket.on("finish", onFinishThenDestroy)
      if (!socket.writableEnded) socket.end()
    })

  socket.on("data", onData)
  socket.on("end", onEnd)
  socket.on("error", onError)
  socket.on("close", onClose)
  socket.on("drain", onDrain)
  if (idleMillis !== undefined) {
    socket.setTimeout(idleMillis)
    socket.on("timeout", onTimeout)
  }
  applySettings(socket, settings)
  socket.resume()
  // Closed before it was wrapped: settle now, 'close' will not come again.
  if (socket.closed) onClose()

  // --- copying ---------------------------------------------------------------

  const copyTo = (destination: Connection): Effect.Effect<number, OSError.ReadError | OSError.WriteError> => {
    const target = destinations.get(destination)
    if (target === undefined) return copy(connection, destination)
    return Effect.callback<number, OSError.ReadError | OSError.WriteError>((resume) => {
      const out = target.socket
      let copied = 0
      let waitingForDrain = false
      let done = false
      const onOutDrain = (): void => {
        waitingForDrain = false
        if (paused) {
          paused = false
          if (!socket.destroyed) socket.resume()
        }
      }
      // A destination that is another socket can close on its own; one that is this socket ends the copy by reading.
      const onOutClose = (): void => finish(Effect.fail(target.writeFailure()))
      const cleanup = (): void => {
        forward = undefined
        copyDone = undefined
        out.off("drain", onOutDrain)
        if (out !== socket) out.off("close", onOutClose)
        if (waitingForDrain) onOutDrain()
      }
      function finish(result: Effect.Effect<number, OSError.ReadError | OSError.WriteError>): void {
        if (done) return
        done = true
        cleanup()
        resume(result)
      }
      const send = (chunk: Uint8Array): void => {
        copied += chunk.length
        target.sent(chunk.length)
        if (!out.write(chunk) && !waitingForDrain) {
          // the destination's buffer is full: stop reading until it drains
          waitingForDrain = true
          out.once("drain", onOutDrain)
          if (!paused) {
            paused = true
            socket.pause()
          }
        }
      }
      copyDone = () => {
        if (readError !== undefined) {
          // this socket failed; when it failed writing (an echo), that is the copy's write error
          finish(
            Effect.fail(failure !== undefined && syscallOf(failure, "read") === "write" ? writeFailure() : readError)
          )
        } else if (eof) finish(Effect.succeed(copied))
      }
      if (out.destroyed || out.writableEnded) return finish(Effect.fail(target.writeFailure()))
      if (out !== socket) out.on("close", onOutClose)
      // what was read ahead first, then straight from the socket
      const queuedChunks = queue
      queue = []
      queued = 0
      forward = send
      for (let i = 0; i < queuedChunks.length; i++) send(queuedChunks[i])
      if (paused && !waitingForDrain) {
        paused = false
        if (!socket.destroyed) socket.resume()
      }
      if (readError !== undefined || eof) copyDone()
      return Effect.sync(cleanup)
    })
  }

  const connection: Connection = {
    id,
    remoteAddress,
    localAddress,
    get stream() {
      return stream ??= makeStream()
    },
    write,
    writeAll,
    get sink() {
      return sink ??= makeSink()
    },
    copyTo,
    end,
    reset,
    options: Effect.sync(() => Sockopt.read(socket)),
    bytesRead: Effect.sync(() => bytesRead),
    bytesWritten: Effect.sync(() => bytesWritten)
  }
  destinations.set(connection, {
    socket,
    sent: (bytes) => {
      bytesWritten += bytes
    },
    writeFailure
  })
  return { connection, close }
}

// -----------------------------------------------------------------------------
// connect
// -----------------------------------------------------------------------------

const connect = Effect.fn("Tcp.connect")(function*(options: ConnectOptions) {
  const host = options.host ?? "127.0.0.1"
  const port = options.port
  const settings = resolveSettings(options)
  const timeoutMillis = options.timeout === undefined ? undefined : timerMillis(options.timeout)
  let wrapped: Wrapped | undefined
  // The finalizer comes first, so no interruption can leave an open socket unowned.
  yield* Effect.addFinalizer((exit) => wrapped === undefined ? Effect.void : wrapped.close(exit))
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
      wrapped = makeConnection(socket, settings)
      resume(Effect.succeed(wrapped.connection))
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
  let running = 0
  const pending: Array<Net.Socket> = []
  const live = new Set<Net.Socket>()
  let waiters: Array<AcceptWaiter> = []
  let onIdle: (() => void) | undefined
  let onDrained: (() => void) | undefined

  const handlersScope = yield* Scope.make()
  const handlers = yield* Scope.provide(FiberSet.make<unknown, never>(), handlersScope)

  const logAcceptError = (error: OSError.AcceptError): Effect.Effect<void> =>
    Logs.acceptFailure(error, formatAddress(address))

  function onSocketClose(this: Net.Socket): void {
    live.delete(this)
    const index = pending.indexOf(this)
    if (index >= 0) pending.splice(index, 1)
    this.off("close", onSocketClose)
    if (live.size === 0 && onDrained !== undefined) onDrained()
  }

  function onConnection(socket: Net.Socket): void {
    accepted++
    // Node caches the addresses on first read: read them now, before a reset can take them from the kernel.
    // (A peer that reset before accept() returned is already unknown: its address reads as unknown:0.)
    rememberAddresses(socket)
    live.add(socket)
    socket.on("error", ignore)
    socket.on("close", onSocketClose)
    if (closing) {
      socket.destroy()
      return
    }
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
      if (running === 0) return resume(Effect.void)
      const timer = setTimeout(() => resume(Effect.void), graceMillis)
      onIdle = () => {
        clearTimeout(timer)
        resume(Effect.void)
      }
      return Effect.sync(() => clearTimeout(timer))
    }).pipe(
      // Then the rest are interrupted, which closes their connections.
      Effect.andThen(Scope.close(handlersScope, Exit.void)),
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
      return Effect.sync(() => {
        const index = waiters.indexOf(waiter)
        if (index >= 0) waiters.splice(index, 1)
      })
    })

  const accept: Effect.Effect<Connection, OSError.AcceptError, Scope.Scope> = Effect.gen(function*() {
    let wrapped: Wrapped | undefined
    yield* Effect.addFinalizer((exit) => wrapped === undefined ? Effect.void : wrapped.close(exit))
    return yield* take((socket) => {
      wrapped = makeConnection(socket, settings)
      return wrapped.connection
    }, () => Effect.fail(closedError()))
  })

  const handle = <E, R>(
    socket: Net.Socket,
    handler: (connection: Connection) => Effect.Effect<unknown, E, R>
  ): Effect.Effect<void, never, R> =>
    Effect.acquireUseRelease(
      Effect.sync(() => makeConnection(socket, settings)),
      ({ connection }) =>
        handler(connection).pipe(
          Effect.catchCause(Logs.handlerFailure),
          Effect.annotateLogs({ connectionId: connection.id, peer: formatAddress(connection.remoteAddress) })
        ),
      (wrapped, exit) => wrapped.close(exit)
    )

  const serve = <E, R>(
    handler: (connection: Connection) => Effect.Effect<unknown, E, R>
  ): Effect.Effect<never, never, R> =>
    Effect.gen(function*() {
      const run = yield* FiberSet.runtime(handlers)<R>()
      const start = (socket: Net.Socket): void => {
        const fiber: Fiber.Fiber<void> = run(handle(socket, handler))
        if (fiber.pollUnsafe() !== undefined) return
        running++
        fiber.addObserver(() => {
          running--
          if (running === 0 && onIdle !== undefined) onIdle()
        })
      }
      const next = take(start, () => Effect.interrupt).pipe(
        Effect.catch((error) => logAcceptError(error))
      )
      return yield* Effect.forever(next).pipe(
        // Whoever stops serving stops the listener: new connections are refused at once.
        Effect.onInterrupt(() => Effect.sync(stopAccepting))
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
