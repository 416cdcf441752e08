// The idle timeout of client connections. A client has no listener to keep an
// idle sweep (idle.ts) for it, so the clients that share an idle timeout share
// one sweep, started with the first of them and stopped with the last: a client
// costs an entry in a set, not a timer, and each byte costs what it costs a
// server's connection (one field written).
import type * as Net from "node:net"
import { IdleSweep } from "./idle.ts"
import * as Socket from "./socket.ts"

/** The clients watched for one idle timeout, and their sweep. */
class SharedSweep {
  readonly sockets = new Set<Net.Socket>()
  readonly idle: IdleSweep
  private readonly idleMillis: number

  constructor(idleMillis: number) {
    this.idleMillis = idleMillis
    this.idle = new IdleSweep(idleMillis, () => Array.from(this.sockets, Socket.ownerOfSocket))
  }

  /** A watched socket closed: the last one stops the sweep. */
  readonly forget = (socket: Net.Socket): void => {
    this.sockets.delete(socket)
    if (this.sockets.size > 0) return
    this.idle.stop()
    sweeps.delete(this.idleMillis)
  }
}

/** The running sweeps, by idle timeout in milliseconds. */
const sweeps = new Map<number, SharedSweep>()

/**
 * Watches `socket` with the sweep for `idleMillis`, starting one if none runs: the connection made on it takes
 * `idle` and calls `forget` once its socket closed.
 */
export const watch = (
  idleMillis: number,
  socket: Net.Socket
): { readonly idle: IdleSweep; readonly forget: (socket: Net.Socket) => void } => {
  let shared = sweeps.get(idleMillis)
  if (shared === undefined) {
    shared = new SharedSweep(idleMillis)
    sweeps.set(idleMillis, shared)
  }
  shared.sockets.add(socket)
  return shared
}
