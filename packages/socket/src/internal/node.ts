// The Node.js implementation of the Tcp service, on node:net (issue 3).
import { Effect } from "effect"
import type { Tcp } from "../Tcp.ts"

export const make: Effect.Effect<Tcp["Service"]> = Effect.die("not implemented yet")
