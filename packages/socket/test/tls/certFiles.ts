// The test certificates of `certs.ts` as PEM files, for programs that take file names (the apps'
// `--tls-cert`, `--tls-key`, `--tls-ca`, openssl, Python, the bench's TLS peers): written once per
// process into a temporary folder removed when the process exits (or, when it could not, by the next
// process that makes one). No private key is committed.
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { certificates, type KeyPair } from "./certs.ts"

/** A certificate file and its key file. */
export interface KeyPairFiles {
  readonly cert: string
  readonly key: string
}

export interface CertificateFiles {
  /** The folder they are in. */
  readonly dir: string
  /** The test CA's certificate. */
  readonly ca: string
  /** For `localhost` and `127.0.0.1`, signed by the CA. */
  readonly server: KeyPairFiles
  /** CN `test client`, signed by the CA. */
  readonly client: KeyPairFiles
  /** For `localhost` and `127.0.0.1`, signed by the CA, expired since 2020. */
  readonly expired: KeyPairFiles
  /** For `localhost` and `127.0.0.1`, signed by itself. */
  readonly selfSigned: KeyPairFiles
  /** For `other.example` only, signed by the CA. */
  readonly otherHost: KeyPairFiles
  /** A second CA's certificate, which nobody here trusts. */
  readonly otherCa: string
  /** A client certificate signed by the second CA. */
  readonly strangerClient: KeyPairFiles
}

const write = (dir: string, name: string, pem: string): string => {
  const file = Path.join(dir, name)
  Fs.writeFileSync(file, pem, { mode: 0o600 })
  return file
}

const pair = (dir: string, name: string, keyPair: KeyPair): KeyPairFiles => ({
  cert: write(dir, `${name}.pem`, keyPair.cert),
  key: write(dir, `${name}.key`, keyPair.key)
})

const prefix = "effect-tcp-cert-files-"

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM"
  }
}

/**
 * Removes the folders of processes that are gone: a test worker that vitest stops may not see its "exit"
 * event, and its folder (named after its pid) would stay behind.
 */
const removeStale = (): void => {
  for (const name of Fs.readdirSync(Os.tmpdir())) {
    const pid = Number(/^effect-tcp-cert-files-(\d+)-/.exec(name)?.[1])
    if (pid > 0 && pid !== process.pid && !alive(pid)) {
      Fs.rmSync(Path.join(Os.tmpdir(), name), { recursive: true, force: true })
    }
  }
}

const make = (): CertificateFiles => {
  const certs = certificates()
  removeStale()
  const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), `${prefix}${process.pid}-`))
  process.once("exit", () => Fs.rmSync(dir, { recursive: true, force: true }))
  return {
    dir,
    ca: write(dir, "ca.pem", certs.ca),
    server: pair(dir, "server", certs.server),
    client: pair(dir, "client", certs.client),
    expired: pair(dir, "expired", certs.expired),
    selfSigned: pair(dir, "self-signed", certs.selfSigned),
    otherHost: pair(dir, "other-host", certs.otherHost),
    otherCa: write(dir, "other-ca.pem", certs.otherCa),
    strangerClient: pair(dir, "stranger", certs.strangerClient)
  }
}

let made: CertificateFiles | undefined

/** The test certificates as files, made on first use in this process, then cached. */
export const certificateFiles = (): CertificateFiles => made ??= make()
