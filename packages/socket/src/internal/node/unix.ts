// Unix domain sockets on node:net: the addresses Node does not report, the
// options that apply, and what binding a path takes beyond `server.listen`:
// a stale socket file replaced safely, the file's mode, and errors that say what
// is wrong with the path (libuv reports a missing directory as EACCES).
import * as Effect from "effect/Effect"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Path from "node:path"
import type { UnixAddress } from "../../Address.ts"
import { isAbstract } from "../../Address.ts"
import type * as OSError from "../../OSError.ts"
import { type SocketOptions, unavailable } from "../../SocketOptions.ts"
import * as Errors from "../errors.ts"
import * as Sockopt from "../sockopt.ts"

/** A connection's addresses: the path, and the unnamed client end (the same objects for all of a listener's). */
export interface Ends {
  readonly local: UnixAddress
  readonly remote: UnixAddress
  /** What errors name. */
  readonly path: UnixAddress
}

const unnamed: UnixAddress = { family: "Unix", path: "" }

export const address = (path: string): UnixAddress => ({ family: "Unix", path })

export const clientEnds = (path: string): Ends => {
  const named = address(path)
  return { local: unnamed, remote: named, path: named }
}

export const serverEnds = (named: UnixAddress): Ends => ({ local: named, remote: unnamed, path: named })

/**
 * A Unix socket's options: the buffer sizes, read from the kernel. TCP_NODELAY, keepalive, TCP_USER_TIMEOUT and
 * the reuse options mean nothing on one (no Nagle, no probes, no ports): `undefined`, not applicable.
 */
export const options = (socket: Net.Socket): SocketOptions => {
  const { receiveBufferSize, sendBufferSize } = Sockopt.read(socket)
  return { ...unavailable, receiveBufferSize, sendBufferSize }
}

/** How long `listen` waits to learn whether a listener holds an existing socket file. */
const probeMillis = 1_000

type Probe = "refused" | "gone" | { readonly live: true } | { readonly unknown: string }

/** Connects to the socket file: refused means nobody listens (the file is stale). */
const probe = (path: string): Effect.Effect<Probe> =>
  Effect.callback<Probe>((resume) => {
    const socket = Net.createConnection({ path })
    const cleanup = () => {
      clearTimeout(timer)
      socket.removeAllListeners().on("error", ignore).destroy()
    }
    const done = (result: Probe) => {
      cleanup()
      resume(Effect.succeed(result))
    }
    const timer = setTimeout(() => done({ unknown: "no answer" }), probeMillis)
    socket.once("connect", () => done({ live: true }))
    socket.once("error", (cause: NodeJS.ErrnoException) =>
      done(
        cause.code === "ECONNREFUSED" ? "refused" : cause.code === "ENOENT" ? "gone" : { unknown: cause.code ?? "?" }
      ))
    return Effect.sync(cleanup)
  })

const ignore = (): void => {}

const kindOf = (stats: Fs.Stats): string =>
  stats.isFile()
    ? "a regular file"
    : stats.isDirectory()
    ? "a directory"
    : stats.isSymbolicLink()
    ? "a symbolic link"
    : "not a socket"

/** What is at the path: nothing, its stats, or the code of the error that kept us from looking. */
const lstat = (path: string): Fs.Stats | undefined | string => {
  try {
    return Fs.lstatSync(path, { throwIfNoEntry: false })
  } catch (cause) {
    return String((cause as { readonly code?: unknown } | null)?.code ?? cause)
  }
}

const inUse = (path: string, detail: string): OSError.ListenError =>
  Errors.listen("EADDRINUSE", "listen", { path }, detail)

/**
 * What holds the path, after bind failed with EADDRINUSE: `undefined` when it is free now (a stale socket
 * file, removed: bind again), or the error that says who holds it. Only a socket file whose connect is
 * refused is removed, and only if it is still the file that was probed.
 */
const claim = (path: string): Effect.Effect<OSError.ListenError | undefined> => {
  if (isAbstract(path)) return Effect.succeed(inUse(path, "another socket holds this abstract name"))
  const before = lstat(path)
  if (typeof before === "string") return Effect.succeed(inUse(path, `could not examine it (${before})`))
  if (before === undefined) return Effect.succeed(undefined)
  if (!before.isSocket()) return Effect.succeed(inUse(path, `the path is ${kindOf(before)}: it is not removed`))
  return Effect.map(probe(path), (result) => {
    if (result === "gone") return undefined
    if (result !== "refused") {
      return inUse(
        path,
        "live" in result
          ? "a live listener holds it"
          : `could not tell whether a listener holds it (${result.unknown}): it is not removed`
      )
    }
    const now = lstat(path)
    if (typeof now === "string") return inUse(path, `could not examine it (${now})`)
    if (now !== undefined && (now.ino !== before.ino || now.dev !== before.dev)) {
      return inUse(path, "another process bound it meanwhile")
    }
    try {
      if (now !== undefined) Fs.unlinkSync(path)
      return undefined
    } catch (cause) {
      return Errors.fromNode("listen", cause, { path })
    }
  })
}

/** Node's error for a bind on a path, typed; a missing directory (which libuv reports as EACCES) as ENOENT. */
const typed = (path: string, cause: unknown): OSError.ListenError => {
  const code = (cause as { readonly code?: unknown } | null)?.code
  if (code === "EACCES" && !isAbstract(path)) {
    try {
      Fs.statSync(Path.dirname(path))
    } catch (missing) {
      const missingCode = (missing as { readonly code?: unknown } | null)?.code
      return Errors.listen(typeof missingCode === "string" ? missingCode : "ENOENT", "listen", { path })
    }
  }
  return Errors.fromNode("listen", cause, { path })
}

/**
 * Binds a path: `bindOnce` is the listening socket's `listen`. A path in use by a stale socket file is
 * claimed (see `claim`) and bound again, once.
 */
export const bind = <A>(path: string, bindOnce: Effect.Effect<A, unknown>): Effect.Effect<A, OSError.ListenError> =>
  Effect.catch(bindOnce, (cause) => {
    if ((cause as { readonly code?: unknown } | null)?.code !== "EADDRINUSE") return Effect.fail(typed(path, cause))
    return Effect.flatMap(
      claim(path),
      (held) => held !== undefined ? Effect.fail(held) : Effect.mapError(bindOnce, (again) => typed(path, again))
    )
  })

/** The socket file's mode, set before any connection is accepted; the error if chmod failed. */
export const setPermissions = (path: string, permissions: number | undefined): unknown => {
  if (permissions === undefined) return undefined
  try {
    Fs.chmodSync(path, permissions)
    return undefined
  } catch (cause) {
    return cause
  }
}
