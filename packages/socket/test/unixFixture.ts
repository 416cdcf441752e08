// What the Unix socket contract (contract-unix.ts) needs from each layer's world:
// a fresh folder, and the files other processes leave in it. On the Node layer
// these are real files under a temporary folder; on the fake network, the
// fake file system that `FakeNetwork` scripts.
import { Effect } from "effect"
import type { Scope } from "effect"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import { FakeNetwork } from "../src/FakeNetwork.ts"

/** What is at a path, as a test sees it. */
export interface Entry {
  readonly kind: "socket" | "file"
  readonly permissions: number
}

export interface UnixFixture<R> {
  /** A fresh folder for this test's socket paths (removed with the test's scope). */
  readonly folder: Effect.Effect<string, never, Scope.Scope | R>
  /** A socket file nobody listens on, as a process that died leaves it. */
  readonly leaveStaleSocket: (path: string) => Effect.Effect<void, never, R>
  /** A file that is not a socket. */
  readonly placeFile: (path: string) => Effect.Effect<void, never, R>
  /** A directory that does not exist (on Node: one not made). */
  readonly missingDirectory: (directory: string) => Effect.Effect<void, never, R>
  /** A directory the process may not enter; `undefined` where that cannot be arranged (root may enter any). */
  readonly deniedDirectory: ((directory: string) => Effect.Effect<void, never, R>) | undefined
  /** What is at a path now. */
  readonly entry: (path: string) => Effect.Effect<Entry | undefined, never, R>
}

/** Real files under the OS's temporary folder. */
export const nodeFixture: UnixFixture<never> = {
  folder: Effect.acquireRelease(
    Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "effect-tcp-unix-"))),
    (folder) =>
      Effect.sync(() => {
        // a denied directory inside must be entered to be removed
        for (const name of Fs.readdirSync(folder)) Fs.chmodSync(Path.join(folder, name), 0o700)
        Fs.rmSync(folder, { recursive: true, force: true })
      })
  ),
  // A listener's file, kept by a second link while the listener closes (which unlinks its path): what is
  // left is a socket file with nobody behind it, as after a crash.
  leaveStaleSocket: (path) =>
    Effect.callback<void>((resume) => {
      const server = Net.createServer()
      server.listen({ path }, () => {
        Fs.linkSync(path, `${path}.kept`)
        server.close(() => {
          Fs.renameSync(`${path}.kept`, path)
          resume(Effect.void)
        })
      })
    }),
  placeFile: (path) => Effect.sync(() => Fs.writeFileSync(path, "not a socket\n")),
  missingDirectory: () => Effect.void,
  deniedDirectory: process.getuid?.() === 0
    ? undefined
    : (directory) => Effect.sync(() => Fs.mkdirSync(directory, { mode: 0o000 })),
  entry: (path) =>
    Effect.sync(() => {
      const stats = Fs.lstatSync(path, { throwIfNoEntry: false })
      if (stats === undefined) return undefined
      return { kind: stats.isSocket() ? "socket" : "file", permissions: stats.mode & 0o777 }
    })
}

let fakeFolders = 0

/** The fake network's file system, scripted through `FakeNetwork`. */
export const fakeFixture: UnixFixture<FakeNetwork> = {
  folder: Effect.sync(() => `/tmp/effect-tcp-fake-${++fakeFolders}`),
  leaveStaleSocket: (path) => Effect.flatMap(FakeNetwork, (network) => network.placeUnixPath(path, "stale-socket")),
  placeFile: (path) => Effect.flatMap(FakeNetwork, (network) => network.placeUnixPath(path, "file")),
  missingDirectory: (directory) =>
    Effect.flatMap(FakeNetwork, (network) => network.unixDirectory(directory, "missing")),
  deniedDirectory: (directory) => Effect.flatMap(FakeNetwork, (network) => network.unixDirectory(directory, "denied")),
  entry: (path) =>
    Effect.map(
      Effect.flatMap(FakeNetwork, (network) => network.unixPath(path)),
      (entry) => entry === undefined ? undefined : { kind: entry.kind, permissions: entry.permissions }
    )
}
