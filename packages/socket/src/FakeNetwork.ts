/**
 * The in-memory network behind `Tcp.layerTest`, and the faults a test can script on it.
 *
 * Each direction of a fake connection is a bounded pipe: a write is cut into
 * segments, each segment is in flight for the current `latency` (on the
 * `Clock`, so `TestClock` drives it), then lands in the reader's buffer. The
 * bytes in flight and buffered never exceed the reader's `readLimit` (default
 * 64 KiB): a writer to a peer that does not read suspends, as on a real socket.
 * `Connection.bytesRead` counts bytes as they land in the reader's buffer
 * (received, whether or not the stream pulled them yet; not while in flight).
 *
 * Faults apply to the whole network, from the moment they are scripted.
 *
 * Unix domain sockets live in a fake file system: a listener's socket file
 * from `listen` until it stops accepting, and what a test places there
 * (`placeUnixPath`: a stale socket file, a file that is not a socket) or
 * scripts for a directory (`unixDirectory`: missing, denied). IPv6 and dual
 * stack bind per family as Linux does.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { FakeNetwork, Tcp } from "@effect-tcp/socket"
 *
 * const program = Effect.gen(function*() {
 *   const network = yield* FakeNetwork.FakeNetwork
 *   yield* network.splitWrites(1) // every write arrives one byte at a time
 *   yield* network.refuseNext(1) // the next connect fails with ConnectionRefusedError
 * }).pipe(Effect.provide(Tcp.layerTest))
 * ```
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type { Address } from "./Address.ts"

/**
 * One event on the fake wire, for tests that assert what crossed it. An event
 * is logged when it reaches the other end (after any `latency`, not while
 * `stall`ed): `connect` when a connection is established, `data` for every
 * segment delivered (so `splitWrites` shows as many small events), `fin` for
 * `end`, `close` when a side closes its socket, `reset` for an RST.
 *
 * @since 0.1.0
 * @category models
 */
export interface WireEvent {
  /** The `Connection.id` of the side that sent it. */
  readonly connection: number
  /** The sender's local address. */
  readonly from: Address
  /** The receiver's address. */
  readonly to: Address
  readonly kind: "connect" | "data" | "fin" | "reset" | "close"
  /** What was delivered, for `data`. */
  readonly bytes?: Uint8Array | undefined
}

/**
 * What is at a Unix socket path of the fake network (`FakeNetwork.unixPath`): a socket file (`listening`
 * while a listener accepts on it; a stale one, as a process that died leaves it, otherwise), or a file that
 * is not a socket. `permissions` is the file's mode: as `listen` was given it, else `0o755` (the mode the
 * usual umask `022` leaves; the fake has no users, so it does not check it).
 *
 * @since 0.2.0
 * @category models
 */
export interface UnixPathEntry {
  readonly kind: "socket" | "file"
  readonly listening: boolean
  readonly permissions: number
}

/**
 * Scriptable faults and the wire log of the fake network (`Tcp.layerTest`).
 *
 * @since 0.1.0
 * @category services
 */
export class FakeNetwork extends Context.Service<FakeNetwork, {
  /**
   * The next `count` connects (to any port or Unix socket, or only those to
   * `port`) fail with `ConnectionRefusedError`, whether or not something
   * listens there.
   *
   * @since 0.1.0
   * @category faults
   */
  readonly refuseNext: (count: number, port?: number) => Effect.Effect<void>
  /**
   * Connections made from now on are reset (an RST both ways) once `bytes`
   * have crossed them, counting both directions: the bytes up to the limit
   * are delivered, then reads on both sides fail with `ConnectionResetError`,
   * the write that crossed the limit fails with `ConnectionResetError` and
   * later writes with `BrokenPipeError`. `undefined` turns it off for new
   * connections.
   *
   * @since 0.1.0
   * @category faults
   */
  readonly resetAfter: (bytes: number | undefined) => Effect.Effect<void>
  /**
   * Stops (`true`) or resumes (`false`) delivering on every connection: what is
   * written stays in flight, buffers fill and writers suspend (backpressure),
   * and readers wait. Idle timeouts still run.
   *
   * It is the fake's vanished host: keepalive probes go unanswered and what was
   * sent stays unacknowledged, so `keepAlive` and `userTimeout` give up on a
   * connection when Linux would (its reads and a waiting write fail with
   * `TimeoutError`; the peer sees a reset once the network is back).
   *
   * @since 0.1.0
   * @category faults
   */
  readonly stall: (stalled: boolean) => Effect.Effect<void>
  /**
   * Delivers every write in chunks of at most `size` bytes, each its own
   * element of the reader's stream (and its own `data` event), to flush out
   * framing bugs. `undefined` turns it off.
   *
   * @since 0.1.0
   * @category faults
   */
  readonly splitWrites: (size: number | undefined) => Effect.Effect<void>
  /**
   * Delays every delivery, and every connect, by `latency`, on the `Clock`
   * (so under `TestClock` a test advances it with `TestClock.adjust`). A
   * connect `timeout` shorter than the latency fails with `TimeoutError`.
   * Zero turns it off.
   *
   * @since 0.1.0
   * @category faults
   */
  readonly latency: (latency: Duration.Input) => Effect.Effect<void>
  /**
   * Everything that crossed the wire so far, in order of delivery.
   *
   * @since 0.1.0
   * @category wire log
   */
  readonly wireLog: Effect.Effect<ReadonlyArray<WireEvent>>
  /**
   * Puts something at a Unix socket path, as another process would: `"stale-socket"`, a socket file nobody
   * listens on (what a process that died leaves: connects are refused, `listen` replaces it), or `"file"`,
   * a file that is not a socket (connects are refused, `listen` fails with `AddressInUseError` and leaves
   * it). `undefined` removes what is there. Either replaces what was there, as unlinking it would: a
   * listener that held the path goes on serving the connections it has, unreachable by path.
   *
   * @since 0.2.0
   * @category unix sockets
   */
  readonly placeUnixPath: (path: string, kind: "stale-socket" | "file" | undefined) => Effect.Effect<void>
  /**
   * Every directory of the fake network exists, except those scripted here: under a `"missing"` one,
   * `listen` and `connect` fail with `FileNotFoundError` (ENOENT), under a `"denied"` one with
   * `PermissionError` (EACCES). `undefined` makes it exist again.
   *
   * @since 0.2.0
   * @category unix sockets
   */
  readonly unixDirectory: (directory: string, state: "missing" | "denied" | undefined) => Effect.Effect<void>
  /**
   * What is at a Unix socket path now, `undefined` for nothing: a listener's socket file is there from
   * `listen` until its server stops accepting.
   *
   * @since 0.2.0
   * @category unix sockets
   */
  readonly unixPath: (path: string) => Effect.Effect<UnixPathEntry | undefined>
}>()("@effect-tcp/socket/FakeNetwork") {}
