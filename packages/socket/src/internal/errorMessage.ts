// How our errors read, in Python's form: `[Errno 111] Connection refused: detail (127.0.0.1:8888)`.
// Shared by the OSError classes and ProxyHeaderError, which is not one of them but reads like one.
import * as Util from "node:util"
import { formatPath } from "../Address.ts"

/** Where an error happened: an address, a host alone, a Unix path, or nowhere in particular. */
export interface Located {
  readonly host?: string | undefined
  readonly port?: number | undefined
  readonly path?: string | undefined
}

/** The running OS's text for an errno, capitalized as Python prints it: `Connection refused`. */
export const strerror = (errno: number): string => {
  try {
    const text = Util.getSystemErrorMessage(-Math.abs(errno))
    return text.charAt(0).toUpperCase() + text.slice(1)
  } catch {
    return "Unknown error"
  }
}

/** ` (127.0.0.1:8888)`, ` ([::1]:8888)`, ` (/tmp/echo.sock)` or ` (host)`: the place an error names, if any. */
export const where = (self: Located): string =>
  self.path !== undefined
    ? ` (${formatPath(self.path)})`
    : self.host !== undefined && self.port !== undefined
    ? ` (${self.host.includes(":") ? `[${self.host}]` : self.host}:${self.port})`
    : self.host !== undefined
    ? ` (${self.host})`
    : ""

/** `[Errno 111] Connection refused: detail (127.0.0.1:8888)`. */
export const errnoMessage = (
  self: Located & { readonly errno: number; readonly detail?: string | undefined }
): string =>
  `[Errno ${self.errno}] ${strerror(self.errno)}${self.detail !== undefined ? `: ${self.detail}` : ""}${where(self)}`
