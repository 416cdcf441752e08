// Unix socket paths on the fake network: a small file system of socket files
// (and abstract names), as the Node layer meets them. A listener's path holds a
// live socket until its listener stops accepting; a stale socket file (what a
// process that died leaves) refuses connects and is replaced by `listen`; a path
// that is not a socket is never replaced. Directories exist unless a test
// scripted one missing (ENOENT) or denied (EACCES). Nothing touches the OS.
import type { UnixAddress } from "../../Address.ts"
import { isAbstract } from "../../Address.ts"
import type { UnixPathEntry } from "../../FakeNetwork.ts"
import type * as OSError from "../../OSError.ts"
import * as Errors from "../errors.ts"
import type { Listener } from "./listener.ts"
import type { Network } from "./network.ts"

/** What is at a path: a socket file (live while its listener accepts, else stale), or another kind of file. */
export type Entry =
  | { readonly kind: "socket"; readonly listener: Listener | undefined; readonly permissions: number }
  | { readonly kind: "file" }

export type DirectoryState = "missing" | "denied"

/** What a socket file's mode is when `listen` is not given one: `0o777` less the usual umask, `022`. */
const defaultPermissions = 0o755

export const unnamed: UnixAddress = { family: "Unix", path: "" }

/** The fault of the scripted directory nearest the root above `path`, if any. */
const directoryFault = (network: Network, path: string): "ENOENT" | "EACCES" | undefined => {
  if (isAbstract(path)) return undefined
  let nearest: string | undefined
  for (const directory of network.directories.keys()) {
    const prefix = directory.endsWith("/") ? directory : `${directory}/`
    if (path.startsWith(prefix) && (nearest === undefined || directory.length < nearest.length)) nearest = directory
  }
  if (nearest === undefined) return undefined
  return network.directories.get(nearest) === "missing" ? "ENOENT" : "EACCES"
}

const inUse = (path: string, detail: string): OSError.ListenError =>
  Errors.listen("EADDRINUSE", "listen", { path }, detail)

/**
 * Makes the path free for a listener, as the Node layer does: a stale socket file is removed; a live one, or
 * a path that is not a socket, is the error.
 */
export const claim = (network: Network, path: string): OSError.ListenError | undefined => {
  const fault = directoryFault(network, path)
  if (fault !== undefined) return Errors.listen(fault, "listen", { path })
  const entry = network.unixPaths.get(path)
  if (entry === undefined) return undefined
  if (entry.kind === "file") return inUse(path, "the path is a regular file: it is not removed")
  if (entry.listener !== undefined) {
    return inUse(path, isAbstract(path) ? "another socket holds this abstract name" : "a live listener holds it")
  }
  network.unixPaths.delete(path)
  return undefined
}

export const register = (network: Network, path: string, listener: Listener, permissions: number | undefined) => {
  network.unixPaths.set(path, { kind: "socket", listener, permissions: permissions ?? defaultPermissions })
}

/** The listener stopped accepting: its socket file is removed (an abstract name goes with its socket). */
export const release = (network: Network, path: string, listener: Listener): void => {
  const entry = network.unixPaths.get(path)
  if (entry?.kind === "socket" && entry.listener === listener) network.unixPaths.delete(path)
}

/** The listener a connect to `path` reaches, or what it fails with (no file, or no listener behind it). */
export const find = (network: Network, path: string): Listener | "ENOENT" | "EACCES" | "ECONNREFUSED" => {
  const fault = directoryFault(network, path)
  if (fault !== undefined) return fault
  const entry = network.unixPaths.get(path)
  // an abstract name no socket holds is refused: it has no file to be missing
  if (entry === undefined) return isAbstract(path) ? "ECONNREFUSED" : "ENOENT"
  return entry.kind === "socket" && entry.listener !== undefined ? entry.listener : "ECONNREFUSED"
}

/** `FakeNetwork.placeUnixPath`: what another process would leave there. */
export const place = (network: Network, path: string, kind: "stale-socket" | "file" | undefined): void => {
  if (kind === undefined) network.unixPaths.delete(path)
  else if (kind === "file") network.unixPaths.set(path, { kind: "file" })
  else network.unixPaths.set(path, { kind: "socket", listener: undefined, permissions: defaultPermissions })
}

/** `FakeNetwork.unixPath`: what is at a path now. */
export const inspect = (network: Network, path: string): UnixPathEntry | undefined => {
  const entry = network.unixPaths.get(path)
  if (entry === undefined) return undefined
  if (entry.kind === "file") return { kind: "file", listening: false, permissions: 0o644 }
  return { kind: "socket", listening: entry.listener !== undefined, permissions: entry.permissions }
}
