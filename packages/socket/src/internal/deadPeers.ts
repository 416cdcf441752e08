// The settings that notice a dead peer, for both layers: what each form of
// `keepAlive` means, the ranges the kernel takes (Linux's, checked on every
// platform alike, before anything touches the OS), and where TCP_USER_TIMEOUT
// exists at all. The fakes simulate exactly what is resolved here.
import * as Duration from "effect/Duration"
import * as Option from "effect/Option"
import type { KeepAliveOptions, SocketSettings } from "../Tcp.ts"

/** MAX_TCP_KEEPIDLE and MAX_TCP_KEEPINTVL: the kernel counts keepalive times in whole seconds, up to this. */
const maxKeepAliveSeconds = 32767
/** MAX_TCP_KEEPCNT */
const maxKeepAliveCount = 127
/** TCP_USER_TIMEOUT is an int of milliseconds. */
const maxUserTimeoutMillis = 2 ** 31 - 1

export interface DeadPeerSettings {
  readonly keepAlive: boolean
  /** The idle time before the first keepalive probe, in milliseconds (Node's unit); 0: the system's. */
  readonly keepAliveInitialDelay: number
  /** TCP_KEEPINTVL to set, in seconds; `undefined`: the system's. */
  readonly keepAliveIntervalSeconds: number | undefined
  /** TCP_KEEPCNT to set; `undefined`: the system's. */
  readonly keepAliveCount: number | undefined
  /** TCP_USER_TIMEOUT to set, in milliseconds; `undefined`: none. */
  readonly userTimeoutMillis: number | undefined
}

type KeepAlive = SocketSettings["keepAlive"]

/**
 * `{ idle, interval, count }` rather than a duration: Effect's duration objects (`{ seconds: 30 }`) are objects
 * too, told apart by their fields. `{}` is keepalive with the system's times.
 */
const isKeepAliveOptions = (keepAlive: KeepAlive): keepAlive is KeepAliveOptions =>
  typeof keepAlive === "object" && keepAlive !== null && !Array.isArray(keepAlive) &&
  !Duration.isDuration(keepAlive) &&
  ("idle" in keepAlive || "interval" in keepAlive || "count" in keepAlive || Object.keys(keepAlive).length === 0)

/** The duration in whole `unitMillis`, or `undefined` where it is not a whole number of them. */
const whole = (input: Duration.Input, unitMillis: number): number | undefined => {
  const duration = Duration.fromInput(input)
  if (Option.isNone(duration)) return undefined
  const units = Duration.toMillis(duration.value) / unitMillis
  return Number.isInteger(units) ? units : undefined
}

/** A duration as a person wrote it, for messages: "1s 500ms". */
const show = (input: Duration.Input): string =>
  Option.match(Duration.fromInput(input), { onNone: () => String(input), onSome: Duration.format })

const badSeconds = (name: string, option: string, input: Duration.Input | undefined): string | undefined => {
  if (input === undefined) return undefined
  const seconds = whole(input, 1000)
  return seconds !== undefined && seconds >= 1 && seconds <= maxKeepAliveSeconds
    ? undefined
    : `${name} must be whole seconds from 1s to ${maxKeepAliveSeconds}s (${option} counts seconds), not ${show(input)}`
}

/** The first dead-peer setting out of range, as the detail of an EINVAL. */
export const invalid = (settings: SocketSettings): string | undefined => {
  const { keepAlive, userTimeout } = settings
  if (isKeepAliveOptions(keepAlive)) {
    const { count } = keepAlive
    const badCount = count !== undefined && !(Number.isInteger(count) && count >= 1 && count <= maxKeepAliveCount)
    return badSeconds("keepAlive.idle", "TCP_KEEPIDLE", keepAlive.idle) ??
      badSeconds("keepAlive.interval", "TCP_KEEPINTVL", keepAlive.interval) ??
      (badCount ? `keepAlive.count must be a whole number from 1 to ${maxKeepAliveCount}, not ${count}` : undefined)
  }
  if (keepAlive !== undefined && typeof keepAlive !== "boolean") {
    const bad = badSeconds("keepAlive", "TCP_KEEPIDLE", keepAlive)
    if (bad !== undefined) return bad
  }
  if (userTimeout === undefined) return undefined
  const millis = whole(userTimeout, 1)
  return millis !== undefined && millis >= 1 && millis <= maxUserTimeoutMillis
    ? undefined
    : `userTimeout must be whole milliseconds from 1ms to ${maxUserTimeoutMillis}ms, not ${show(userTimeout)}`
}

/** Whether this OS has TCP_USER_TIMEOUT (macOS and the BSDs do not). */
export const hasUserTimeout = process.platform === "linux"

/**
 * What this platform cannot do, as the detail of an ENOTSUP: both layers refuse it alike, so a test on the
 * fakes fails where the program would.
 */
export const unsupported = (settings: SocketSettings): string | undefined =>
  settings.userTimeout !== undefined && !hasUserTimeout
    ? `userTimeout needs TCP_USER_TIMEOUT, which ${process.platform} does not have (Linux only)`
    : undefined

/** The settings resolved, once `invalid` found nothing wrong. */
export const resolve = (settings: SocketSettings): DeadPeerSettings => {
  const { keepAlive, userTimeout } = settings
  const options = isKeepAliveOptions(keepAlive) ? keepAlive : undefined
  const idle = isKeepAliveOptions(keepAlive)
    ? keepAlive.idle
    : keepAlive === undefined || typeof keepAlive === "boolean"
    ? undefined
    : keepAlive
  return {
    keepAlive: keepAlive !== undefined && keepAlive !== false,
    keepAliveInitialDelay: idle === undefined ? 0 : Duration.toMillis(idle),
    keepAliveIntervalSeconds: options?.interval === undefined ? undefined : Duration.toSeconds(options.interval),
    keepAliveCount: options?.count,
    userTimeoutMillis: userTimeout === undefined ? undefined : Duration.toMillis(userTimeout)
  }
}
