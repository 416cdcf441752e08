// Peers we did not write, for the interop tests: packages/socket/test/tls/peers.ts, with its patience.
// Loaded by URL: a relative import across TypeScript projects cannot be rewritten for the build, and a
// test has no package to import it from.
import type * as Peers from "../../../packages/socket/test/tls/peers.ts"

const module = await import(new URL("../../../packages/socket/test/tls/peers.ts", import.meta.url).href) as typeof Peers

export type Peer = Peers.Peer
export type Test = Peers.Test
export const opensslMissing: string | undefined = module.opensslMissing
export const python: string = module.python
export const pythonMissing: string | undefined = module.pythonMissing
export const startPeer: typeof Peers.startPeer = module.startPeer
