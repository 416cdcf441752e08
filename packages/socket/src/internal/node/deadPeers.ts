// Keepalive and TCP_USER_TIMEOUT on a Node socket. Node sets SO_KEEPALIVE and the
// idle time itself (and libuv, with an idle time, an interval of 1 second and 10
// probes); keepalive's interval and count and TCP_USER_TIMEOUT go through
// setsockopt (sockopt.ts), after Node's, so that ours are the ones that hold.
import type * as Net from "node:net"
import type * as Settings from "../settings.ts"
import * as Sockopt from "../sockopt.ts"

/** The first option set through the FFI that the settings name, for messages. */
const needsFfi = (settings: Settings.Settings): string | undefined =>
  settings.keepAliveIntervalSeconds !== undefined
    ? "keepAlive.interval"
    : settings.keepAliveCount !== undefined
    ? "keepAlive.count"
    : settings.userTimeoutMillis !== undefined
    ? "userTimeout"
    : undefined

/**
 * Where setsockopt cannot be called (koffi missing or not loading), `connect` and `listen` fail with this
 * (ENOTSUP's detail) before they touch the OS, rather than leave a dead peer unnoticed.
 */
export const unsupported = (settings: Settings.Settings): string | undefined => {
  const option = needsFfi(settings)
  if (option === undefined) return undefined
  const reason = Sockopt.unavailableReason()
  return reason === undefined ? undefined : `${option} needs setsockopt ${reason}`
}

/** Sets what the settings ask for beyond Node's own keepalive: the first that failed, with its errno. */
export const apply = (socket: Net.Socket, settings: Settings.Settings): Sockopt.SetFailure | undefined => {
  if (needsFfi(settings) === undefined) return undefined
  // Node's first (it skips the call later when nothing changed): libuv sets its own interval and count with it.
  if (settings.keepAlive) socket.setKeepAlive(true, settings.keepAliveInitialDelay)
  return Sockopt.setDeadPeerOptions(socket, settings)
}
