// How many connections a listener can take before the process runs out of file
// descriptors. libuv hides EMFILE on accept (it accepts and closes the connection
// with a reserved descriptor, and Node never hears of it), so a server that
// relied on the error would drop connections silently. Instead the listener caps
// its connections at this budget, and counts and logs what it turns away as
// TooManyOpenFilesError. Linux only (it reads /proc); elsewhere: no budget.
import * as Fs from "node:fs"

export interface Budget {
  /** The soft limit on open files (`ulimit -n`). */
  readonly limit: number
  /** Connections that fit: the limit, less what is open now, less a reserve for everything else. */
  readonly connections: number
}

export const budget = (): Budget | undefined => {
  if (process.platform !== "linux") return undefined
  try {
    const match = /^Max open files\s+(\d+|unlimited)/m.exec(Fs.readFileSync("/proc/self/limits", "utf8"))
    if (match === null || match[1] === "unlimited") return undefined
    const limit = Number(match[1])
    const open = Fs.readdirSync("/proc/self/fd").length
    // room for logs, files and outgoing connections of the same process
    const reserve = Math.max(4, Math.min(64, Math.floor(limit / 8)))
    return { limit, connections: Math.max(1, limit - open - reserve) }
  } catch {
    return undefined
  }
}
