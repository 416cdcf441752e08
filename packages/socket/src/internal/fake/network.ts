// The state of one fake network, which every room of the fake reads and
// changes, and the faults a test scripts on it (the `FakeNetwork` service).
// Faults apply to the whole network from the moment they are scripted.
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type { FakeNetwork, WireEvent } from "../../FakeNetwork.ts"
import { firstEphemeralPort, type Refusal } from "./hosts.ts"
import type { Listener } from "./listener.ts"
import * as Unix from "./unix.ts"
import { type Link, settle } from "./wire.ts"

export class Network {
  nextPort = firstEphemeralPort
  readonly listeners: Array<Listener> = []
  readonly links = new Set<Link>()
  readonly log: Array<WireEvent> = []
  readonly refusals: Array<Refusal> = []
  /** The fake file system of Unix sockets: what is at each path (abstract names too). */
  readonly unixPaths = new Map<string, Unix.Entry>()
  /** Directories a test scripted missing or denied; every other one exists. */
  readonly directories = new Map<string, Unix.DirectoryState>()
  /** SO_REUSEPORT: the next of the listeners sharing a port to take a connection. */
  roundRobin = 0
  // faults
  resetAfter: number | undefined = undefined
  stalled = false
  splitSize: number | undefined = undefined
  latency = 0
}

export const faults = (network: Network): FakeNetwork["Service"] => {
  const settleAll = Effect.flatMap(Clock.currentTimeMillis, (now) =>
    Effect.sync(() => {
      for (const link of network.links) settle(network, link, now)
    }))
  const wakeAll = () => {
    for (const link of network.links) link.bump()
  }
  return {
    refuseNext: (count, port) =>
      Effect.sync(() => {
        if (count > 0) network.refusals.push({ port, remaining: count })
      }),
    resetAfter: (bytes) =>
      Effect.sync(() => {
        network.resetAfter = bytes === undefined ? undefined : Math.max(0, bytes)
      }),
    stall: (stalled) =>
      Effect.andThen(
        Effect.sync(() => {
          network.stalled = stalled
          wakeAll()
        }),
        settleAll
      ),
    splitWrites: (size) =>
      Effect.sync(() => {
        network.splitSize = size === undefined ? undefined : Math.max(1, Math.floor(size))
      }),
    latency: (latency) =>
      Effect.sync(() => {
        network.latency = Duration.toMillis(latency)
      }),
    wireLog: Effect.andThen(settleAll, Effect.sync(() => network.log.slice())),
    placeUnixPath: (path, kind) => Effect.sync(() => Unix.place(network, path, kind)),
    unixDirectory: (directory, state) =>
      Effect.sync(() => {
        if (state === undefined) network.directories.delete(directory)
        else network.directories.set(directory, state)
      }),
    unixPath: (path) => Effect.sync(() => Unix.inspect(network, path))
  }
}
