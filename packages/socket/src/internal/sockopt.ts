// Socket options Node does not expose (SO_RCVBUF, SO_SNDBUF, SO_REUSEPORT, TCP_KEEPINTVL, ...),
// read and set with getsockopt/setsockopt on the socket's file descriptor through
// the FFI package koffi, an optional dependency. Where this cannot work (another
// platform, koffi not installed or not loading, no descriptor) every value read is
// `undefined`: unavailable, never invented; and asking for an option set here
// fails (see `unavailableReason`) rather than being ignored.
import * as Duration from "effect/Duration"
import { createRequire } from "node:module"
import type * as Net from "node:net"
import * as Os from "node:os"
import type { SocketOptions } from "../SocketOptions.ts"
import { unavailable } from "../SocketOptions.ts"

interface Constants {
  readonly SOL_SOCKET: number
  readonly SO_REUSEADDR: number
  readonly SO_ERROR: number
  readonly SO_KEEPALIVE: number
  readonly SO_SNDBUF: number
  readonly SO_RCVBUF: number
  readonly SO_REUSEPORT: number
  readonly IPPROTO_TCP: number
  readonly TCP_NODELAY: number
  readonly TCP_KEEPIDLE: number
  readonly TCP_KEEPINTVL: number
  readonly TCP_KEEPCNT: number
  /** Linux only. */
  readonly TCP_USER_TIMEOUT: number | undefined
}

const linux: Constants = {
  SOL_SOCKET: 1,
  SO_REUSEADDR: 2,
  SO_ERROR: 4,
  SO_KEEPALIVE: 9,
  SO_SNDBUF: 7,
  SO_RCVBUF: 8,
  SO_REUSEPORT: 15,
  IPPROTO_TCP: 6,
  TCP_NODELAY: 1,
  TCP_KEEPIDLE: 4,
  TCP_KEEPINTVL: 5,
  TCP_KEEPCNT: 6,
  TCP_USER_TIMEOUT: 18
}

// <sys/socket.h> and <netinet/tcp.h> on macOS (and the BSDs it comes from).
const darwin: Constants = {
  SOL_SOCKET: 0xffff,
  SO_REUSEADDR: 0x0004,
  SO_ERROR: 0x1007,
  SO_KEEPALIVE: 0x0008,
  SO_SNDBUF: 0x1001,
  SO_RCVBUF: 0x1002,
  SO_REUSEPORT: 0x0200,
  IPPROTO_TCP: 6,
  TCP_NODELAY: 0x01,
  // TCP_KEEPALIVE: macOS's name for the idle time
  TCP_KEEPIDLE: 0x10,
  TCP_KEEPINTVL: 0x101,
  TCP_KEEPCNT: 0x102,
  TCP_USER_TIMEOUT: undefined
}

interface Libc {
  readonly constants: Constants
  readonly getsockopt: (fd: number, level: number, name: number, value: Int32Array, length: Uint32Array) => number
  readonly setsockopt: (fd: number, level: number, name: number, value: Array<number>, length: number) => number
  /** The calling thread's errno, as the last failed call left it. */
  readonly errno: () => number
}

// undefined: not tried yet; null: unavailable on this platform (`reason` says why).
let libc: Libc | null | undefined
let reason = ""

const messageOf = (cause: unknown): string =>
  (cause instanceof Error ? cause.message : String(cause)).split("\n")[0] ?? ""

const libraryNames: Partial<Record<NodeJS.Platform, ReadonlyArray<string>>> = {
  linux: ["libc.so.6"],
  darwin: ["libSystem.B.dylib", "/usr/lib/libSystem.B.dylib"]
}

const load = (): Libc | null => {
  if (libc !== undefined) return libc
  libc = null
  const constants = process.platform === "linux" ? linux : process.platform === "darwin" ? darwin : undefined
  if (constants === undefined) {
    reason = `on ${process.platform}, whose socket option numbers this library does not know`
    return libc
  }
  let koffi: typeof import("koffi")
  try {
    // Loaded on first use, so a platform without koffi (an optional dependency) can still import this library.
    koffi = createRequire(import.meta.url)("koffi") as typeof import("koffi")
  } catch (cause) {
    reason = `through the FFI package koffi, which did not load: ${messageOf(cause)}`
    return libc
  }
  // The process's own symbols first (Node links libc dynamically), then libc by name.
  for (const name of [null, ...(libraryNames[process.platform] ?? [])]) {
    try {
      const lib = koffi.load(name)
      libc = {
        constants,
        getsockopt: lib.func("int getsockopt(int, int, int, _Out_ int *, _Inout_ uint32 *)"),
        setsockopt: lib.func("int setsockopt(int, int, int, const int *, uint32)"),
        errno: () => koffi.errno()
      }
      return libc
    } catch (cause) {
      reason = `through the FFI package koffi, which did not find it in libc: ${messageOf(cause)}`
    }
  }
  return libc
}

/**
 * Why socket options cannot be set in this process (koffi missing or not loading, an unknown platform),
 * as the rest of "needs setsockopt …", or `undefined` where they can. Loads koffi the first time it is asked.
 */
export const unavailableReason = (): string | undefined => load() === null ? reason : undefined

/** The socket's file descriptor, where Node has one (`socket._handle.fd` on Unix). */
export const fdOf = (socket: Net.Socket): number | undefined => {
  const handle = (socket as unknown as { readonly _handle?: { readonly fd?: unknown } | null })._handle
  const fd = handle?.fd
  return typeof fd === "number" && fd >= 0 ? fd : undefined
}

// getsockopt's out-parameters, reused: calls are synchronous, and reading options per connection adds up.
const optionValue = new Int32Array(1)
const optionLength = new Uint32Array(1)

const getInt = (lib: Libc, fd: number, level: number, name: number): number | undefined => {
  optionValue[0] = 0
  optionLength[0] = 4
  try {
    return lib.getsockopt(fd, level, name, optionValue, optionLength) === 0 ? optionValue[0] : undefined
  } catch {
    return undefined
  }
}

const flag = (value: number | undefined): boolean | undefined => value === undefined ? undefined : value !== 0

const seconds = (value: number | undefined): Duration.Duration | undefined =>
  value === undefined ? undefined : Duration.seconds(value)

const millis = (value: number | undefined): Duration.Duration | undefined =>
  value === undefined ? undefined : Duration.millis(value)

/** Reads the socket's live options from the kernel. */
export const read = (socket: Net.Socket): SocketOptions => {
  const fd = fdOf(socket)
  if (fd === undefined) return unavailable
  const lib = load()
  if (lib === null) return unavailable
  const c = lib.constants
  return {
    reuseAddress: flag(getInt(lib, fd, c.SOL_SOCKET, c.SO_REUSEADDR)),
    reusePort: flag(getInt(lib, fd, c.SOL_SOCKET, c.SO_REUSEPORT)),
    receiveBufferSize: getInt(lib, fd, c.SOL_SOCKET, c.SO_RCVBUF),
    sendBufferSize: getInt(lib, fd, c.SOL_SOCKET, c.SO_SNDBUF),
    noDelay: flag(getInt(lib, fd, c.IPPROTO_TCP, c.TCP_NODELAY)),
    keepAlive: flag(getInt(lib, fd, c.SOL_SOCKET, c.SO_KEEPALIVE)),
    keepAliveIdle: seconds(getInt(lib, fd, c.IPPROTO_TCP, c.TCP_KEEPIDLE)),
    keepAliveInterval: seconds(getInt(lib, fd, c.IPPROTO_TCP, c.TCP_KEEPINTVL)),
    keepAliveCount: getInt(lib, fd, c.IPPROTO_TCP, c.TCP_KEEPCNT),
    userTimeout: c.TCP_USER_TIMEOUT === undefined
      ? undefined
      : millis(getInt(lib, fd, c.IPPROTO_TCP, c.TCP_USER_TIMEOUT))
  }
}

/** A setsockopt that did not take: the errno's code (`ENOBUFS`), its number, and what was asked. */
export interface SetFailure {
  readonly code: string
  readonly errno: number
  readonly detail: string
}

/** The error the kernel holds for the socket (SO_ERROR, which clears it): 0 for none; `undefined` where unreadable. */
export const pendingError = (socket: Net.Socket): number | undefined => {
  const fd = fdOf(socket)
  if (fd === undefined) return undefined
  const lib = load()
  return lib === null ? undefined : getInt(lib, fd, lib.constants.SOL_SOCKET, lib.constants.SO_ERROR)
}

/** The errno's code as this OS names it (`ECONNRESET`). */
export const codeOf = (errno: number): string | undefined =>
  Object.entries(Os.constants.errno).find(([, n]) => n === errno)?.[0]

type Settable = "SO_RCVBUF" | "SO_SNDBUF" | "TCP_KEEPINTVL" | "TCP_KEEPCNT" | "TCP_USER_TIMEOUT"

const setInt = (socket: Net.Socket, which: Settable, value: number): SetFailure | undefined => {
  const failed = (code: string, errno: number, why: string): SetFailure => ({
    code,
    errno,
    detail: `setsockopt(${which}, ${value}) ${why}`
  })
  const lib = load()
  // `connect` and `listen` check `unavailableReason` before they start: only a socket with no descriptor gets here
  const fd = fdOf(socket)
  if (lib === null || fd === undefined) {
    const why = lib === null ? `needs setsockopt ${reason}` : "failed: the socket has no descriptor"
    return failed("ENOTSUP", Os.constants.errno.ENOTSUP, why)
  }
  const name = lib.constants[which]
  // `connect` and `listen` refuse an option the platform lacks before they start (deadPeers.ts)
  if (name === undefined) {
    return failed("ENOTSUP", Os.constants.errno.ENOTSUP, `is not an option on ${process.platform}`)
  }
  const level = which.startsWith("TCP_") ? lib.constants.IPPROTO_TCP : lib.constants.SOL_SOCKET
  let result: number
  try {
    result = lib.setsockopt(fd, level, name, [value], 4)
  } catch (cause) {
    return failed("EIO", Os.constants.errno.EIO, `could not be called: ${messageOf(cause)}`)
  }
  if (result === 0) return undefined
  const errno = lib.errno()
  return failed(codeOf(errno) ?? "EIO", errno, "failed")
}

/** Asks the kernel for the buffer sizes the settings name (SO_RCVBUF, SO_SNDBUF); the first that fails. */
export const setBufferSizes = (
  socket: Net.Socket,
  sizes: { readonly receiveBufferSize: number | undefined; readonly sendBufferSize: number | undefined }
): SetFailure | undefined =>
  (sizes.receiveBufferSize === undefined ? undefined : setInt(socket, "SO_RCVBUF", sizes.receiveBufferSize)) ??
    (sizes.sendBufferSize === undefined ? undefined : setInt(socket, "SO_SNDBUF", sizes.sendBufferSize))

/** Sets keepalive's interval and count and TCP_USER_TIMEOUT, those the settings name; the first that fails. */
export const setDeadPeerOptions = (
  socket: Net.Socket,
  options: {
    readonly keepAliveIntervalSeconds: number | undefined
    readonly keepAliveCount: number | undefined
    readonly userTimeoutMillis: number | undefined
  }
): SetFailure | undefined =>
  (options.keepAliveIntervalSeconds === undefined
    ? undefined
    : setInt(socket, "TCP_KEEPINTVL", options.keepAliveIntervalSeconds)) ??
    (options.keepAliveCount === undefined ? undefined : setInt(socket, "TCP_KEEPCNT", options.keepAliveCount)) ??
    (options.userTimeoutMillis === undefined
      ? undefined
      : setInt(socket, "TCP_USER_TIMEOUT", options.userTimeoutMillis))
