import type { ChildProcess } from "node:child_process"
/** What a test started, killed when it finishes. */
export interface Test {
  readonly onTestFinished: (fn: () => void) => void
}
/** Why `openssl` cannot be used here, or `undefined` when it can. */
export declare const opensslMissing: string | undefined
/** Debian's Python, the seed's interpreter. */
export declare const python = "/usr/bin/python3"
/** Why Python's asyncio with ssl cannot be used here, or `undefined` when it can. */
export declare const pythonMissing: string | undefined
export interface Peer {
  readonly child: ChildProcess
  readonly stdout: () => Buffer
  readonly stderr: () => string
  /** Resolves once stdout holds at least `bytes` bytes (within the patience given to `startPeer`). */
  readonly stdoutHolds: (bytes: number) => Promise<Buffer>
  /** Resolves once stdout matches (within that patience): a peer announcing its port. */
  readonly stdoutMatches: (pattern: RegExp) => Promise<RegExpExecArray>
  readonly exit: Promise<number | null>
}
/** Starts a peer program; it is killed when the test ends. Its output is waited for `patience` ms at most. */
export declare const startPeer: (test: Test, command: string, args: ReadonlyArray<string>, patience?: number) => Peer
