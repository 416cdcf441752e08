// The Node.js implementation of the Tcp service, on node:net: `Tcp.layer`.
import * as Effect from "effect/Effect"
import type { Tcp } from "../../Tcp.ts"
import { connect } from "./connect.ts"
import { listen } from "./listener.ts"
import { startTls } from "./tls.ts"

export const make: Effect.Effect<Tcp["Service"]> = Effect.succeed({
  connect,
  listen: ((options) => listen(options)) as Tcp["Service"]["listen"],
  startTls
})
