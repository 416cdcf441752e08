/**
 * The `echo` command: the seed's exchange (send a message, check its echo),
 * repeated with `count` and `interval`, or standard input streamed through the
 * server to standard output like `nc`, with a half-close at the end of input
 * (over TLS, once everything sent has come back: see `stream`). With
 * `retries`, messages whose connection is lost mid-echo are sent again on a
 * new connection (an echo is idempotent); standard input is not replayed.
 *
 * On interruption (the first SIGINT/SIGTERM) it half-closes, waits briefly for
 * the echo still in flight, and logs what was done.
 *
 * @since 0.1.0
 */
import type { OSError, Tcp } from "@effect-tcp/socket"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type { PlatformError } from "effect/PlatformError"
import * as Stdio from "effect/Stdio"
import * as Stream from "effect/Stream"
import * as Session from "./Session.ts"
import * as Target from "./Target.ts"

/**
 * @since 0.1.0
 * @category models
 */
export interface Options extends Target.Target {
  /** The message to send (`Hello World!`). */
  readonly message: string
  /** How many times to send it, on the one connection. */
  readonly count: number
  /** The pause between two messages. */
  readonly interval: Duration.Duration
  /** Stream standard input instead of the message. */
  readonly stdin: boolean
  /** How long to wait for the echo still in flight after an interruption. */
  readonly grace: Duration.Duration
}

/**
 * The seed: `Hello World!` once to 127.0.0.1:8888.
 *
 * @since 0.1.0
 * @category models
 */
export const defaults: Options = {
  ...Target.defaults,
  message: "Hello World!",
  count: 1,
  interval: Duration.zero,
  stdin: false,
  grace: Duration.seconds(2)
}

/**
 * What the echo command can fail with.
 *
 * @since 0.1.0
 * @category models
 */
export type Error = OSError.ConnectError | OSError.WriteError | Session.EchoError<PlatformError>

const preview = (text: string): string => JSON.stringify(text.length > 64 ? `${text.slice(0, 64)}...` : text)

const millis = (nanos: bigint): number => Math.round(Number(nanos) / 1e3) / 1e3

// On interruption: half-close, wait a little for the echo in flight, say what was done.
const drain = <E>(session: Session.Session<E>, grace: Duration.Duration, done: () => string) =>
  Effect.gen(function*() {
    yield* session.connection.end.pipe(Effect.ignore)
    yield* session.awaitEcho.pipe(Effect.timeoutOption(grace), Effect.ignore)
    yield* Effect.logWarning(`interrupted: ${done()}`).pipe(
      Effect.annotateLogs({ sent: session.sent(), echoed: session.echoed() })
    )
  })

const messages = Effect.fnUntraced(function*(options: Options) {
  const stdio = yield* Stdio.Stdio
  const bytes = new TextEncoder().encode(options.message)
  const line = new TextEncoder().encode(`${options.message}\n`)

  let done = 0
  let total = 0
  let min = Infinity
  let max = 0
  // the bytes of the echoes that came back whole on earlier connections (with --retries); a partial echo
  // on a lost connection is not counted: its message is sent again
  let echoedBefore = 0
  const exchange = (session: Session.Session) =>
    Effect.gen(function*() {
      const start = process.hrtime.bigint()
      yield* session.send(bytes)
      yield* Effect.logInfo(`sent: ${preview(options.message)}`).pipe(Effect.annotateLogs({ bytes: bytes.length }))
      yield* session.awaitEcho
      const rtt = millis(process.hrtime.bigint() - start)
      done++
      total += rtt
      min = Math.min(min, rtt)
      max = Math.max(max, rtt)
      // verified byte for byte: what came back is what was sent
      yield* Effect.logInfo(`recv: ${preview(options.message)}`).pipe(
        Effect.annotateLogs({ bytes: bytes.length, rttMs: rtt })
      )
      yield* Stream.make(line).pipe(Stream.run(stdio.stdout()))
    })

  // echoes that came back (also the one in flight during a drain), then the round trips timed
  const summary = (session: Session.Session) => () => {
    const echoed = echoedBefore + session.echoed()
    return `${
      bytes.length > 0 ? Math.floor(echoed / bytes.length) : done
    } of ${options.count} echoes, ${echoed} bytes` +
      (done > 0 ? `, rtt min/avg/max ${min}/${Math.round((total / done) * 1e3) / 1e3}/${max} ms` : "")
  }

  // one connection: the messages not yet echoed, from the first whose echo did not come back whole
  const onConnection = Effect.scoped(Effect.gen(function*() {
    const connection = yield* Target.connect({ ...options, retries: 0 })
    const session = yield* Session.make(connection)
    echoedBefore = done * bytes.length
    yield* Effect.logInfo(`connected to ${session.peer}`).pipe(Effect.annotateLogs(Target.tlsAnnotations(connection)))
    const first = done
    yield* Effect.gen(function*() {
      while (done < options.count) {
        if (done > first && Duration.isGreaterThan(options.interval, Duration.zero)) {
          yield* Effect.sleep(options.interval)
        }
        yield* exchange(session)
      }
    }).pipe(Effect.onInterrupt(() => drain(session, options.grace, summary(session))))
    return summary(session)()
  }))

  // with --retries, a refused connect and a connection lost mid-message draw on the same retries
  const last = yield* options.retries > 0
    ? Effect.retry(onConnection, Target.sessionBackoff<Error>(options.retries))
    : onConnection
  if (options.count > 1) yield* Effect.logInfo(last)
})

const stream = Effect.fnUntraced(function*(options: Options) {
  const stdio = yield* Stdio.Stdio
  const connection = yield* Target.connect(options)
  const session = yield* Session.make(connection, stdio.stdout())
  yield* Effect.logInfo(`connected to ${session.peer}`).pipe(Effect.annotateLogs(Target.tlsAnnotations(connection)))
  const summary = () => `sent ${session.sent()} bytes, received ${session.echoed()} bytes`
  yield* Effect.gen(function*() {
    yield* stdio.stdin.pipe(Stream.runForEach(session.send))
    // TLS has no half-close everywhere: a close_notify ends a TLS 1.2 connection both ways, and asyncio
    // closes on it, dropping an echo not yet written. So over TLS the echo comes back first.
    if (connection.tls !== undefined) yield* session.awaitEcho
    // the end of input: half-close, the server's FIN ends the echo
    yield* connection.end
    yield* session.awaitEnd
  }).pipe(Effect.onInterrupt(() => drain(session, options.grace, summary)))
  yield* Effect.logInfo(summary()).pipe(Effect.annotateLogs({ sent: session.sent(), echoed: session.echoed() }))
})

/**
 * Runs the echo command.
 *
 * @since 0.1.0
 * @category running
 */
export const run = (options: Options): Effect.Effect<void, Error, Tcp.Tcp | Stdio.Stdio> =>
  (options.stdin ? stream(options) : messages(options)).pipe(
    Effect.scoped,
    Effect.withSpan("Echo.run"),
    Effect.annotateLogs({ server: Target.describe(options) })
  )
