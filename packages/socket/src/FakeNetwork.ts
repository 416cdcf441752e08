/**
 * The in-memory network behind `Tcp.layerTest`, and the faults a test can script on it.
 *
 * @since 0.1.0
 */
import { Context } from "effect"
import type { Duration, Effect } from "effect"
import type { Address } from "./Address.ts"

/**
 * One event on the fake wire, for tests that assert what crossed it.
 *
 * @since 0.1.0
 * @category models
 */
export interface WireEvent {
  readonly connection: number
  readonly from: Address
  readonly to: Address
  readonly kind: "connect" | "data" | "fin" | "reset" | "close"
  readonly bytes?: Uint8Array | undefined
}

/**
 * Scriptable faults and the wire log of the fake network.
 *
 * @since 0.1.0
 * @category services
 */
export class FakeNetwork extends Context.Service<FakeNetwork, {
  /** The next `count` connects (to any port, or to `port`) fail with `ConnectionRefusedError`. */
  readonly refuseNext: (count: number, port?: number) => Effect.Effect<void>
  /** Connections made from now on are reset (RST both ways) once `bytes` have crossed them. */
  readonly resetAfter: (bytes: number) => Effect.Effect<void>
  /** Stops (`true`) or resumes (`false`) delivering bytes on every connection; writers back up. */
  readonly stall: (stalled: boolean) => Effect.Effect<void>
  /** Delivers every write in chunks of at most `size` bytes (`undefined` turns it off). */
  readonly splitWrites: (size: number | undefined) => Effect.Effect<void>
  /** Delays every delivery by `latency`, on the Clock (so `TestClock` drives it). */
  readonly latency: (latency: Duration.Input) => Effect.Effect<void>
  /** What crossed the wire so far. */
  readonly wireLog: Effect.Effect<ReadonlyArray<WireEvent>>
}>()("@effect-tcp/socket/FakeNetwork") {}
