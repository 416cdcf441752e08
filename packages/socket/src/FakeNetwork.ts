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
 * Scriptable faults and the wire log of the fake network (`Tcp.layerTest`).
 *
 * @since 0.1.0
 * @category services
 */
export class FakeNetwork extends Context.Service<FakeNetwork, {
  /**
   * The next `count` connects (to any port, or only those to `port`) fail with
   * `ConnectionRefusedError`, whether or not something listens there.
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
}>()("@effect-tcp/socket/FakeNetwork") {}
