// What a Unix socket path must be, checked alike on both layers before either
// touches anything: not empty, not longer than the platform's sun_path holds
// (Node 22 would cut a longer one short without a word, and bind another path),
// an abstract name only on Linux, and permissions only for a socket file.
import { isAbstract } from "../Address.ts"
import type * as OSError from "../OSError.ts"
import * as Errors from "./errors.ts"

/**
 * The longest path bind and connect take, in bytes: sun_path's 108 on Linux (a path needs no NUL there, an
 * abstract name counts its leading one), 104 on macOS less its NUL; elsewhere Node's own check decides.
 */
export const maximumLength: number | undefined = process.platform === "linux"
  ? 108
  : process.platform === "darwin"
  ? 103
  : undefined

interface Asked {
  readonly host?: string | undefined
  readonly port?: number | undefined
  readonly permissions?: number | undefined
}

const invalidPath = (path: string, asked: Asked): string | undefined => {
  const { permissions } = asked
  if (asked.host !== undefined || asked.port !== undefined) return "give a path, or a host and port, not both"
  if (isAbstract(path) && process.platform !== "linux") return "abstract socket names (\\0name) are Linux-only"
  if (permissions === undefined) return undefined
  if (!Number.isInteger(permissions) || permissions < 0 || permissions > 0o777) {
    return `permissions must be a file mode from 0 to 0o777, not ${permissions}`
  }
  return isAbstract(path) ? "permissions apply to a socket file: an abstract name has none" : undefined
}

/** The first thing wrong with a Unix socket's path or options (`invalidSetting`: the other settings' check). */
export const check = (
  syscall: "connect" | "listen",
  path: string,
  asked: Asked,
  invalidSetting: string | undefined
): OSError.OSError | undefined => {
  if (typeof path !== "string" || path === "") {
    return Errors.invalid(syscall, {}, `path must be a non-empty string, not ${JSON.stringify(path)}`)
  }
  const invalid = invalidPath(path, asked) ?? invalidSetting
  if (invalid !== undefined) return Errors.invalid(syscall, { path }, invalid)
  if (maximumLength !== undefined && Errors.byteLength(path) > maximumLength) {
    return Errors.pathTooLong(syscall, path, maximumLength)
  }
  return undefined
}
