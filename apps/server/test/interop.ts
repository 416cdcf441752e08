// Peers we did not write, for the interop tests: packages/socket/test/tls/peers.ts, with
// the server tests' patience. Loaded by URL: a relative import across TypeScript projects cannot be
// rewritten for the build, and a test has no package to import it from.
import type * as Interop from "../../../packages/socket/test/tls/peers.ts"
import { patience, type Test } from "./ServerProcess.ts"

const module = await import(
  new URL("../../../packages/socket/test/tls/peers.ts", import.meta.url).href
) as typeof Interop

export type Peer = Interop.Peer
export const opensslMissing: string | undefined = module.opensslMissing
export const python: string = module.python
export const pythonMissing: string | undefined = module.pythonMissing

/** Starts a peer program, waiting for its output as long as the server's tests wait for a server. */
export const startPeer = (test: Test, command: string, args: ReadonlyArray<string>): Peer =>
  module.startPeer(test, command, args, patience)
