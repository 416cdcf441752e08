// What we publish, tried as a user meets it: every publishable package is built
// and packed, the tarballs are installed with npm into folders outside the
// workspace, and what was installed runs with plain `node` (22 and 24) and with
// the installed commands. publint and arethetypeswrong check the tarballs.
import { execFile, spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

const run = promisify(execFile)
const root = fileURLToPath(new URL("../..", import.meta.url))
const consumerFixture = fileURLToPath(new URL("../consumer", import.meta.url))
const bin = (name: string) => Path.join(root, "node_modules", ".bin", name)
const node24 = Path.join(root, "node_modules", "node", "bin", "node")
const node22 = Path.join(root, "node_modules", "node22", "bin", "node")
/**
 * A user's environment: none of what pnpm sets for its scripts (its NODE_PATH would find the
 * workspace's packages, koffi among them), and Node 24 first on the PATH.
 */
const env = (): NodeJS.ProcessEnv => {
  const { NODE_PATH: _pnpmOnly, ...rest } = process.env
  return { ...rest, PATH: `${Path.dirname(node24)}:${process.env.PATH ?? ""}` }
}
const publishable = ["packages/socket", "packages/runtime", "apps/server", "apps/client"]

/** The version of a dependency the library is tested with, so the user's project gets the same. */
const workspaceVersion = (name: string): string =>
  (JSON.parse(
    Fs.readFileSync(Path.join(root, "packages", "socket", "node_modules", name, "package.json"), "utf8")
  ) as { version: string }).version

/** Runs a command; on failure the error carries its output, so a red test says why. */
const sh = async (file: string, args: ReadonlyArray<string>, options: { cwd: string; env?: NodeJS.ProcessEnv }) => {
  try {
    return await run(file, args, { env: env(), ...options, maxBuffer: 64 * 1024 * 1024, timeout: 300_000 })
  } catch (error) {
    const { stderr, stdout } = error as { stdout?: string; stderr?: string }
    throw new Error(`${file} ${args.join(" ")} failed:\n${stdout ?? ""}\n${stderr ?? ""}`, { cause: error })
  }
}

const npm = (args: ReadonlyArray<string>, cwd: string) =>
  sh("npm", [...args, "--no-audit", "--no-fund", "--loglevel=error"], { cwd })

let work: string
const tarballs: Record<string, string> = {}

beforeAll(async () => {
  work = Fs.mkdtempSync(Path.join(Os.tmpdir(), "effect-tcp-install-"))
  await sh(bin("tsc"), ["-b", "tsconfig.build.json"], { cwd: root })
  const packed = Path.join(work, "tarballs")
  for (const dir of publishable) {
    await sh("pnpm", ["pack", "--pack-destination", packed], { cwd: Path.join(root, dir) })
  }
  for (const file of Fs.readdirSync(packed)) {
    const name = /^effect-tcp-(\w+)-/.exec(file)?.[1]
    if (name !== undefined) tarballs[name] = Path.join(packed, file)
  }
}, 600_000)

/** A user's project outside the workspace: the consumer programs, the socket's tarball and `effect`. */
const userProject = async (name: string, extra: ReadonlyArray<string>): Promise<string> => {
  const project = Path.join(work, name)
  Fs.cpSync(consumerFixture, project, { recursive: true })
  Fs.writeFileSync(Path.join(project, "package.json"), JSON.stringify({ name, private: true, type: "module" }))
  await npm(["install", tarballs.socket!, `effect@${workspaceVersion("effect")}`, ...extra], project)
  return project
}

afterAll(() => {
  if (work !== undefined) Fs.rmSync(work, { recursive: true, force: true })
})

describe("the tarballs", () => {
  it("hold the built package, not the tests, and publish the workspace's versions as ranges", async () => {
    expect(Object.keys(tarballs).toSorted()).toEqual(["client", "runtime", "server", "socket"])
    const { stdout } = await sh("tar", ["-tzf", tarballs.socket!], { cwd: work })
    const files = stdout.split("\n")
    for (const file of ["package/dist/index.js", "package/dist/index.d.ts", "package/README.md", "package/LICENSE"]) {
      expect(files).toContain(file)
    }
    expect(files.filter((file) => /test|vitest/.test(file))).toEqual([])
    const manifest = JSON.parse(
      (await sh("tar", ["-xzOf", tarballs.server!, "package/package.json"], { cwd: work })).stdout
    ) as { dependencies: Record<string, string> }
    for (const [name, range] of Object.entries(manifest.dependencies)) {
      expect(range, `${name}: ${range}`).toMatch(/^\^?\d/)
    }
  })

  it("pass publint and arethetypeswrong", async () => {
    for (const [name, tarball] of Object.entries(tarballs)) {
      const unpacked = Path.join(work, "unpacked", name)
      Fs.mkdirSync(unpacked, { recursive: true })
      await sh("tar", ["-xzf", tarball, "-C", unpacked, "--strip-components=1"], { cwd: work })
      const { stdout } = await sh(bin("publint"), ["--strict", unpacked], { cwd: work })
      expect(stdout, `${name}: ${stdout}`).not.toMatch(/warning|error|suggestion/i)
    }
    for (const name of Object.keys(tarballs)) {
      await sh(bin("attw"), [tarballs[name]!, "--profile", "esm-only", "--format", "ascii"], { cwd: work })
    }
  })

  it("cannot be made by npm pack, which would ship exports that point at the TypeScript sources", async () => {
    for (const dir of publishable) {
      const failed = await sh("npm", ["pack", "--dry-run"], { cwd: Path.join(root, dir) }).then(() => undefined, String)
      expect(failed, dir).toMatch(/pack and publish it with pnpm .*publishConfig\.exports/)
    }
  })
})

describe("@effect-tcp/socket in a user's project", () => {
  let project: string

  beforeAll(async () => {
    project = await userProject("consumer", [`@types/node@${workspaceVersion("@types/node")}`])
  }, 300_000)

  it("type-checks under strict, noUncheckedIndexedAccess, exactOptionalPropertyTypes, no skipLibCheck", async () => {
    await sh(process.execPath, [Path.join(root, "node_modules", "typescript", "bin", "tsc"), "-p", "."], {
      cwd: project
    })
  })

  it.each([["24", node24], ["22", node22]])(
    "echoes over Tcp.layer and Tcp.layerTest on plain node %s",
    async (_, node) => {
      const { stdout } = await sh(node, ["echo.ts"], { cwd: project })
      expect(stdout.trim().split("\n")).toEqual(["layer: hello over layer", "layerTest: hello over layerTest"])
    }
  )

  it.each([["24", node24], ["22", node22]])(
    "reads frames with Reader and lines with Framing, through the subpath modules, on plain node %s",
    async (_, node) => {
      const { stdout } = await sh(node, ["protocol.ts"], { cwd: project })
      const answers = "HELLO, FRAMES, refused: LimitOverrunError"
      expect(stdout.trim().split("\n")).toEqual([`layer: ${answers}`, `layerTest: ${answers}`])
    }
  )
})

describe("@effect-tcp/socket installed without optional dependencies (no koffi)", () => {
  let project: string

  beforeAll(async () => {
    project = await userProject("no-ffi", ["--omit=optional"])
  }, 300_000)

  it("echoes, reads the options as unavailable, and refuses a buffer size saying why", async () => {
    expect(Fs.existsSync(Path.join(project, "node_modules", "koffi"))).toBe(false)
    const { stdout } = await sh(node24, ["no-ffi.ts"], { cwd: project })
    const [echo, receiveBuffer, refusal] = stdout.trim().split("\n")
    expect(echo).toBe("echo: hello without koffi")
    expect(receiveBuffer).toBe("SO_RCVBUF: unavailable")
    expect(refusal).toMatch(/^receiveBufferSize: ENOTSUP: \[Errno \d+\] .*receiveBufferSize needs setsockopt .*koffi/)
  })
})

describe("the library's own tests", () => {
  it("pass on Node 22 against the built package", async () => {
    const vitest = Path.join(root, "node_modules", "vitest", "vitest.mjs")
    const config = Path.join(root, "packages", "socket", "vitest.dist.config.ts")
    const { stdout } = await sh(node22, [vitest, "run", "--config", config], { cwd: root })
    const [, passed, failed] = /tests: (\d+) passed, (\d+) failed/.exec(stdout) ?? []
    expect(Number(failed), stdout).toBe(0)
    expect(Number(passed)).toBeGreaterThan(100)
  }, 300_000)
})

describe("echo-server and echo-client, installed with npm install -g", () => {
  let prefix: string

  beforeAll(async () => {
    prefix = Path.join(work, "global")
    await npm(["install", "-g", "--prefix", prefix, ...Object.values(tarballs)], work)
  }, 300_000)

  it("serve and echo one message, and the server stops on SIGTERM with exit 0", async () => {
    const server = spawn(Path.join(prefix, "bin", "echo-server"), ["--port", "0", "--log-format", "json"], {
      env: env(),
      stdio: ["ignore", "ignore", "pipe"]
    })
    try {
      let stderr = ""
      const port = await new Promise<number>((resolve, reject) => {
        server.stderr.on("data", (chunk: Buffer) => {
          stderr += chunk.toString()
          const match = /Serving on 127\.0\.0\.1:(\d+)/.exec(stderr)
          if (match !== null) resolve(Number(match[1]))
        })
        server.on("exit", (code) => reject(new Error(`echo-server exited ${code}:\n${stderr}`)))
      })
      const { stdout } = await sh(Path.join(prefix, "bin", "echo-client"), ["--port", String(port)], {
        cwd: work,
        env: env()
      })
      expect(stdout.trim()).toBe("Hello World!")
      const exited = new Promise<number | null>((resolve) => server.on("exit", resolve))
      server.kill("SIGTERM")
      expect(await exited).toBe(0)
    } finally {
      server.kill("SIGKILL")
    }
  })
})
