/**
 * The servers side by side: ours and its peers, how to start each one and how it
 * tells us its port. Each listens on 127.0.0.1 on a free port (port 0).
 */
import { Heap } from "@effect-tcp/runtime"
import { spawnSync } from "node:child_process"
import { existsSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { tlsFiles } from "./certs.ts"
import { haproxy, haproxyFound } from "./haproxy.ts"
import {
  BASELINE,
  EFFECT_FIBER_FRAMED,
  HAPROXY_LIBRARY,
  HAPROXY_NODE_NET,
  LIBRARY_COPY,
  LIBRARY_FRAMED,
  LIBRARY_STREAM,
  LIBRARY_TLS,
  NODE_NET_EFFECT,
  NODE_NET_FRAMED,
  NODE_TLS,
  NODE_TLS_EFFECT,
  OURS,
  OURS_NO_FLAGS
} from "./results.ts"

export const root = fileURLToPath(new URL("../../", import.meta.url))
export const path = (relative: string): string => `${root}${relative}`

export interface Launch {
  readonly command: string
  readonly args: ReadonlyArray<string>
  /** the line announcing the bound port; its first group is the port */
  readonly ready: RegExp
}

export interface ServerSpec {
  readonly id: string
  readonly label: string
  readonly description: string
  /** How to start it, or why it cannot run here. `nodeFlags` go to node servers only. */
  readonly launch: (nodeFlags: ReadonlyArray<string>) => Launch | { readonly skip: string }
  /**
   * It echoes length-prefixed frames, not bytes: only the raw client's messages are frames (a 4-byte
   * big-endian length, then the rest), so it runs the cells only when the raw client does.
   */
  readonly framed?: boolean
  /**
   * It speaks TLS: only the raw client's `--tls` drives it (trusting the bench's own CA, made at run time),
   * whichever client runs the other cells; its idle connections are not measured.
   */
  readonly tls?: boolean
  /**
   * It runs behind HAProxy (mode tcp, on the servers' core): the client connects to HAProxy, which relays
   * each connection to this server, with a PROXY protocol v2 header first when `sendProxyV2`. Its "server
   * CPU" is the backend's, HAProxy's is apart; its idle connections are not measured.
   */
  readonly balancer?: { readonly sendProxyV2: boolean }
}

const portLine = /^(\d+)$/

export interface Python {
  readonly executable: string
  readonly version: string
}

/** The first interpreter that can import `module`: Debian's /usr/bin/python3 first, then the PATH's. */
export const findPython = (module: string): Python | undefined => {
  for (const candidate of ["/usr/bin/python3", "python3"]) {
    if (candidate.startsWith("/") && !existsSync(candidate)) continue
    const probe = spawnSync(
      candidate,
      ["-c", `import sys, ${module}; print(sys.executable); print(sys.version.split()[0])`],
      { encoding: "utf8", timeout: 10_000 }
    )
    if (probe.status === 0) {
      const [executable, version] = probe.stdout.trim().split("\n")
      return { executable: executable ?? candidate, version: version ?? "?" }
    }
  }
  return undefined
}

const node = process.execPath

/** A peer in bench/peers/ started with plain node (only the bench's own flags, e.g. --cpu-prof). */
const peer = (file: string) => (flags: ReadonlyArray<string>): Launch => ({
  command: node,
  args: [...flags, path(`bench/peers/${file}`), "0"],
  ready: portLine
})

/** A TLS peer in bench/peers/: its certificate and key (the bench's, made now) after the port. */
const tlsPeer = (file: string) => (flags: ReadonlyArray<string>): Launch | { skip: string } => {
  const files = tlsFiles()
  if ("skip" in files) return files
  return { command: node, args: [...flags, path(`bench/peers/${file}`), "0", files.cert, files.key], ready: portLine }
}

/** A peer behind HAProxy: the peer as `peer` starts it, or why HAProxy cannot run here. */
const behindHaproxy = (file: string) => (flags: ReadonlyArray<string>): Launch | { skip: string } => {
  const found = haproxy()
  return "skip" in found ? found : peer(file)(flags)
}

const haproxyName = (): string => {
  const found = haproxyFound()
  return found === undefined ? "HAProxy" : `HAProxy ${found.version}`
}

const serverMain = path("apps/server/src/main.ts")

/** Our server app, with `v8Flags` before its main module. */
const ourServer = (v8Flags: ReadonlyArray<string>) => (flags: ReadonlyArray<string>): Launch | { skip: string } =>
  existsSync(serverMain)
    ? {
      command: node,
      args: [...flags, ...v8Flags, serverMain, "--host", "127.0.0.1", "--port", "0", "--log-format", "json"],
      ready: /Serving on 127\.0\.0\.1:(\d+)/
    }
    : { skip: "apps/server/src/main.ts does not exist yet" }

export const servers = (pythons: {
  readonly asyncio: Python | undefined
  readonly uvloop: Python | undefined
}): ReadonlyArray<ServerSpec> => [
  {
    id: BASELINE,
    label: "node:net",
    description:
      "plain `node:net`: `socket.on(\"data\", d => socket.write(d))`, setNoDelay(true) (bench/peers/node-net.ts)",
    launch: peer("node-net.ts")
  },
  {
    id: NODE_NET_EFFECT,
    label: "node:net, Effect loaded",
    description:
      "the node:net echo in a process that has imported the `effect` and `@effect/platform-node` barrels, as a user's program does; no Effect on the data path, plain `node` (bench/peers/node-net-effect.ts)",
    launch: peer("node-net-effect.ts")
  },
  {
    id: LIBRARY_COPY,
    label: "library copyTo",
    description:
      "library, no flags, copyTo: a user's program on `@effect-tcp/socket`, `Tcp.listen` + `serve((c) => c.copyTo(c))` on `Tcp.layer`, `NodeRuntime.runMain`, plain `node` (bench/peers/library-copy.ts)",
    launch: peer("library-copy.ts")
  },
  {
    id: LIBRARY_STREAM,
    label: "library stream",
    description:
      "library, no flags, stream → sink: the README's echo, `connection.stream.pipe(Stream.run(connection.sink), Effect.andThen(connection.end))`, plain `node` (bench/peers/library-stream.ts)",
    launch: peer("library-stream.ts")
  },
  {
    id: NODE_NET_FRAMED,
    label: "node:net, framed",
    description:
      "length-prefixed frames (4-byte big-endian length) echoed whole, by hand on plain `node:net`: no copy for a frame inside one chunk, one concat across chunks (bench/peers/node-net-framed.ts)",
    launch: peer("node-net-framed.ts"),
    framed: true
  },
  {
    id: LIBRARY_FRAMED,
    label: "library framed",
    description:
      "the same frame echo on the library, plain `node`: `Reader.readExactly(4)`, then `readExactly(length)`, both written back with `writeAll` (bench/peers/library-framed.ts)",
    launch: peer("library-framed.ts"),
    framed: true
  },
  {
    id: EFFECT_FIBER_FRAMED,
    label: "Effect fiber, framed",
    description:
      "the framing by hand of node-net-framed, run by one Effect fiber per connection that suspends on `Effect.callback` until the next chunk: Effect's wake-up alone, the floor under library-framed (bench/peers/effect-fiber-framed.ts)",
    launch: peer("effect-fiber-framed.ts"),
    framed: true
  },
  {
    id: NODE_TLS,
    label: "node:tls",
    description:
      "plain `node:tls`: `tls.createServer`, `socket.on(\"data\", d => socket.write(d))`, setNoDelay(true): the TLS baseline, driven by the raw client over TLS (bench/peers/node-tls.ts)",
    launch: tlsPeer("node-tls.ts"),
    tls: true
  },
  {
    id: LIBRARY_TLS,
    label: "library TLS copyTo",
    description:
      "library, no flags, TLS: `Tcp.listen({ tls })` + `serve((c) => c.copyTo(c))` on `Tcp.layer`, `NodeRuntime.runMain`, plain `node`, driven by the raw client over TLS (bench/peers/library-tls.ts)",
    launch: tlsPeer("library-tls.ts"),
    tls: true
  },
  {
    id: NODE_TLS_EFFECT,
    label: "node:tls, Effect loaded",
    description:
      "the node:tls echo in a process that has imported the `effect` and `@effect/platform-node` barrels, as a user's program does; no Effect on the data path: the floor under library-tls (bench/peers/node-tls-effect.ts)",
    launch: tlsPeer("node-tls-effect.ts"),
    tls: true
  },
  {
    id: HAPROXY_NODE_NET,
    label: "HAProxy → node:net",
    // read after launch, which installs HAProxy where it may: the version it then has
    get description() {
      return `${haproxyName()} (mode tcp, \`nbthread 1\`, \`-db\`, no PROXY header) in front of the plain node:net echo: the baseline of haproxy-library (bench/src/haproxy.ts, bench/peers/node-net.ts)`
    },
    launch: behindHaproxy("node-net.ts"),
    balancer: { sendProxyV2: false }
  },
  {
    id: HAPROXY_LIBRARY,
    label: "HAProxy v2 → library",
    get description() {
      return `the same ${haproxyName()} config with \`send-proxy-v2\`, in front of the library's copyTo echo with \`Tcp.listen({ proxyProtocol: { trusted: ["127.0.0.1/32"] } })\`, plain \`node\` (bench/peers/library-proxy.ts)`
    },
    launch: behindHaproxy("library-proxy.ts"),
    balancer: { sendProxyV2: true }
  },
  {
    id: OURS,
    label: "ours",
    description: `our echo server, apps/server on packages/socket, started as \`pnpm start\` starts it (\`${
      Heap.nodeFlags.join(" ")
    }\`, \`--log-format json\`)`,
    launch: ourServer(Heap.nodeFlags)
  },
  {
    id: OURS_NO_FLAGS,
    label: "ours, no flags",
    description:
      `our echo server started with plain \`node apps/server/src/main.ts\`, no V8 flags (\`Main.run\` still sets \`${
        Heap.runtimeFlags.join(" ")
      }\` from inside, as it does for everyone)`,
    launch: ourServer([])
  },
  {
    id: "effect-socket-server",
    label: "Effect NodeSocketServer",
    description:
      "Effect 4.1's own socket server, `@effect/platform-node` `NodeSocketServer` with a pull/writeAll loop (bench/peers/effect-socket-server.ts)",
    launch: peer("effect-socket-server.ts")
  },
  {
    id: "asyncio",
    label: "asyncio streams",
    description: `Python asyncio streams, \`start_server\` with read(65536)/write/drain (bench/peers/echo.py)${
      pythons.asyncio === undefined ? "" : `, ${pythons.asyncio.executable} ${pythons.asyncio.version}`
    }`,
    launch: () =>
      pythons.asyncio === undefined
        ? { skip: "no python3 found" }
        : { command: pythons.asyncio.executable, args: [path("bench/peers/echo.py"), "0"], ready: portLine }
  },
  {
    id: "uvloop",
    label: "uvloop streams",
    description: `the same asyncio streams program on uvloop (bench/peers/echo.py --uvloop)${
      pythons.uvloop === undefined ? "" : `, ${pythons.uvloop.executable} ${pythons.uvloop.version}`
    }`,
    launch: () =>
      pythons.uvloop === undefined
        ? { skip: "uvloop is not installed (Debian: apt-get install python3-uvloop); the bench installs nothing" }
        : { command: pythons.uvloop.executable, args: [path("bench/peers/echo.py"), "0", "--uvloop"], ready: portLine }
  }
]
