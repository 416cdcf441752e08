// What the Node layer does to a `net.Socket` itself: the settings it applies, the
// addresses it reads, and the one listener of each kind every socket shares.
//
// A connection's listeners are shared functions that find their connection
// through a symbol on the socket, not closures per socket: an idle connection
// costs a handful of fields.
import type * as Net from "node:net"
import * as Os from "node:os"
import type { InetAddress } from "../../Address.ts"
import type * as Settings from "../settings.ts"
import * as Sockopt from "../sockopt.ts"

/** What the socket's events are delivered to: the connection that owns it. */
export interface Owner {
  onData(chunk: Buffer): void
  onEnd(): void
  onError(error: Error): void
  onDrain(): void
  onClose(): void
  /** A static-buffer read (see `reads.ts`): `bytes` in `buffer`, until the next read; `false` stops reading. */
  onRead(bytes: number, buffer: Buffer): boolean
  /** The buffer the next static-buffer read lands in. */
  readBuffer(): Buffer
  /** The idle sweep's check (see `idle.ts`). */
  checkIdle(now: number, limit: number, idleMillis: number): void
}

const kOwner = Symbol.for("@effect-tcp/socket/NodeConnection")

interface Owned extends Net.Socket {
  [kOwner]?: Owner
}

export const ownerOf = (socket: Net.Socket): Owner => (socket as Owned)[kOwner]!

function onData(this: Net.Socket, chunk: Buffer): void {
  ownerOf(this).onData(chunk)
}
function onEnd(this: Net.Socket): void {
  ownerOf(this).onEnd()
}
function onError(this: Net.Socket, error: Error): void {
  ownerOf(this).onError(error)
}
function onDrain(this: Net.Socket): void {
  ownerOf(this).onDrain()
}
function onClose(this: Net.Socket): void {
  ownerOf(this).onClose()
}

export const ignore = (): void => {}

/** The owner takes the socket's events, one listener of each kind. */
export const own = (socket: Net.Socket, owner: Owner): void => {
  ;(socket as Owned)[kOwner] = owner
  socket.on("data", onData)
  socket.on("end", onEnd)
  socket.on("error", onError)
  socket.on("close", onClose)
  socket.on("drain", onDrain)
}

/** The owner is found through this socket too (a TLS connection's TCP socket, which its listener holds). */
export const adopt = (socket: Net.Socket, owner: Owner): void => {
  ;(socket as Owned)[kOwner] = owner
}

/** The owner lets go once the socket closed; a late error has nowhere to go and is ignored. */
export const disown = (socket: Net.Socket): void => {
  socket.off("data", onData)
  socket.off("end", onEnd)
  socket.off("error", onError)
  socket.off("close", onClose)
  socket.off("drain", onDrain)
  socket.on("error", ignore)
}

/** The owner of a socket, where it has one (the listener's idle sweep walks sockets). */
export const ownerOfSocket = (socket: Net.Socket): Owner | undefined => (socket as Owned)[kOwner]

export const applySettings = (socket: Net.Socket, settings: Settings.Settings): void => {
  socket.setNoDelay(settings.noDelay)
  if (settings.keepAlive) socket.setKeepAlive(true, settings.keepAliveInitialDelay)
}

/**
 * Buffer sizes are set with setsockopt through the FFI package koffi (an optional dependency). Where it cannot
 * be called, `connect` and `listen` fail with this (ENOTSUP's detail) before they touch the OS, rather than
 * leave a buffer size silently unset.
 */
export const bufferSizesUnsupported = (settings: Settings.Settings): string | undefined => {
  const option = settings.receiveBufferSize !== undefined
    ? "receiveBufferSize"
    : settings.sendBufferSize !== undefined
    ? "sendBufferSize"
    : undefined
  if (option === undefined) return undefined
  const reason = Sockopt.unavailableReason()
  return reason === undefined ? undefined : `${option} needs setsockopt ${reason}`
}

/** Sets the buffer sizes the settings ask for (SO_RCVBUF, SO_SNDBUF): the first that failed, with its errno. */
export const setBufferSizes = (socket: Net.Socket, settings: Settings.Settings): Sockopt.SetFailure | undefined =>
  settings.receiveBufferSize === undefined && settings.sendBufferSize === undefined
    ? undefined
    : Sockopt.setBufferSizes(socket, settings)

/**
 * libuv before 1.52 (Node 22) reports a reset that arrives right behind data, in the same poll, as a clean end
 * (libuv/libuv#4997): bytes lost to the reset would look delivered. There an end asks the kernel for the socket's
 * pending error (SO_ERROR, through the FFI; without it the end stays clean).
 */
const endMayHideReset = ((): boolean => {
  const [major = 0, minor = 0] = process.versions.uv.split(".").map(Number)
  return process.platform !== "win32" && major === 1 && minor < 52
})()

/**
 * An end that hid a reset: the socket is destroyed with the error Node would have raised; `true` then. A
 * pending EPIPE is not one: Linux records it for a reset that came after the peer's FIN (CLOSE_WAIT), so
 * everything the peer sent did arrive (a TLS client that left before the server's session tickets came).
 */
export const failedAtEnd = (socket: Net.Socket): boolean => {
  if (!endMayHideReset) return false
  const errno = Sockopt.pendingError(socket)
  if (errno === undefined || errno === 0 || errno === Os.constants.errno.EPIPE) return false
  const code = Sockopt.codeOf(errno) ?? "ECONNRESET"
  socket.destroy(Object.assign(new Error(`read ${code}`), { errno: -errno, code, syscall: "read" }))
  return true
}

const mappedPrefix = "::ffff:"

/**
 * An address as Node reports it. An IPv4 peer of a dual-stack listener comes as an IPv4-mapped IPv6 address
 * (`::ffff:127.0.0.1`): it is reported in its IPv4 form, the address that peer sees as its own.
 */
export const toAddress = (
  host: string | undefined,
  port: number | undefined,
  family: string | undefined
): InetAddress => {
  if (host === undefined) return { host: "unknown", port: port ?? 0, family: family === "IPv6" ? "IPv6" : "IPv4" }
  if (family === "IPv6" && host.startsWith(mappedPrefix) && host.includes(".", mappedPrefix.length)) {
    return { host: host.slice(mappedPrefix.length), port: port ?? 0, family: "IPv4" }
  }
  return { host, port: port ?? 0, family: family === "IPv6" ? "IPv6" : "IPv4" }
}

/** Reads (and so makes Node cache) a socket's peer address, before a reset can take it from the kernel. */
export const rememberPeer = (socket: Net.Socket): void => {
  void socket.remoteFamily
}
