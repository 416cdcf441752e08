// Debian packages the tests need (prometheus, haproxy): where their commands are missing, the package
// is installed (apt-get, as root, bounded in time) when the tests load; where that cannot be done, the
// caller gets one sentence saying why, for its tests to skip saying so.
import { spawnSync } from "node:child_process"
import * as Fs from "node:fs"

/** A Debian package and the commands the tests need from it. */
export interface Package {
  /** Debian's name for it. */
  readonly name: string
  /** Each command with the arguments that make it answer (`--version`) when it works. */
  readonly commands: ReadonlyArray<readonly [command: string, ...args: Array<string>]>
  /** Whose tests need it, for the warning an install prints. */
  readonly neededBy: string
}

const works = ([command, ...args]: readonly [string, ...Array<string>]): boolean =>
  spawnSync(command, args, { encoding: "utf8", timeout: 10_000 }).status === 0

const aptGet = (args: ReadonlyArray<string>) =>
  spawnSync("apt-get", args, {
    encoding: "utf8",
    // bounded: a slow mirror makes the tests skip, not hang
    timeout: 180_000,
    env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" }
  })

const lastLine = (text: string | null): string => (text ?? "").trim().split("\n").at(-1) ?? ""

/**
 * Installs the package where its commands do not work yet and this machine allows it; returns why its
 * commands cannot be used here, or `undefined` when they can.
 */
export const ensureInstalled = (pkg: Package): string | undefined => {
  if (pkg.commands.every(works)) return undefined
  const names = pkg.commands.map(([command]) => command)
  const several = names.length > 1
  const missing = `${names.join(" and ")} ${several ? "are" : "is"} not installed`
  const them = several ? "them" : "it"
  const install = `apt-get install -y ${pkg.name}`
  if (!Fs.existsSync("/usr/bin/apt-get")) return `${missing}, and there is no apt-get to install ${them} with`
  if (process.getuid?.() !== 0) return `${missing}, and installing ${them} (${install}) needs root`
  console.warn(`${pkg.neededBy}: installing Debian's ${pkg.name} package for ${names.join(" and ")} (apt-get)`)
  const args = ["install", "-y", "--no-install-recommends", pkg.name]
  let result = aptGet(args)
  // the package lists may be missing or stale: update them once
  if (result.status !== 0 && aptGet(["update"]).status === 0) result = aptGet(args)
  if (result.status !== 0 || !pkg.commands.every(works)) {
    const why = result.error?.message ?? lastLine(result.stderr)
    return `${missing}, and ${install} failed: ${why}`
  }
  return undefined
}
