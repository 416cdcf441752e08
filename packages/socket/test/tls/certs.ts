// Certificates for the TLS tests, made when the tests run (no private key is committed): a CA, and
// certificates it signs for the server (`localhost` and `127.0.0.1`), a client, an expired server, a
// server not valid yet and a server for another host name; a self-signed server certificate; a second
// CA nobody trusts, and a client certificate it signs. Made once per process (a test file) with the
// `openssl` command line, into a temporary folder removed when the process exits.
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"

/** A certificate and its private key, as PEM. */
export interface KeyPair {
  readonly cert: string
  readonly key: string
}

export interface Certificates {
  /** The test CA's certificate: what clients and servers trust. */
  readonly ca: string
  /** For `localhost` and `127.0.0.1`, signed by the CA. */
  readonly server: KeyPair
  /** A client certificate (CN `test client`), signed by the CA. */
  readonly client: KeyPair
  /** For `localhost` and `127.0.0.1`, signed by the CA, valid on 1 January 2020 only. */
  readonly expired: KeyPair
  /** For `localhost` and `127.0.0.1`, signed by the CA, valid from 2100 on. */
  readonly notYetValid: KeyPair
  /** For `localhost` and `127.0.0.1`, signed by itself. */
  readonly selfSigned: KeyPair
  /** For `other.example` only, signed by the CA. */
  readonly otherHost: KeyPair
  /** A second CA's certificate, which nobody here trusts. */
  readonly otherCa: string
  /** A client certificate signed by the second CA. */
  readonly strangerClient: KeyPair
}

const opensslMissing = (cause: unknown): Error => {
  const why = cause instanceof Error ? cause.message : String(cause)
  return new Error(
    `The TLS tests make their certificates with the \`openssl\` command line, which could not be run here (${why}). ` +
      "Install OpenSSL (e.g. `apt-get install openssl`) and run the tests again.",
    { cause }
  )
}

const caConfig = `[ca]
default_ca = test
[test]
dir = .
database = index.txt
new_certs_dir = .
serial = serial
default_md = sha256
policy = anything
unique_subject = no
copy_extensions = none
email_in_dn = no
[anything]
commonName = supplied
[server]
subjectAltName = DNS:localhost,IP:127.0.0.1
basicConstraints = CA:FALSE
extendedKeyUsage = serverAuth
[other_host]
subjectAltName = DNS:other.example
basicConstraints = CA:FALSE
extendedKeyUsage = serverAuth
[client]
basicConstraints = CA:FALSE
extendedKeyUsage = clientAuth
`

const make = (): Certificates => {
  const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "effect-tcp-certs-"))
  process.once("exit", () => Fs.rmSync(dir, { recursive: true, force: true }))
  const openssl = (...args: ReadonlyArray<string>): void => {
    try {
      ChildProcess.execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "pipe", "pipe"] })
    } catch (cause) {
      if ((cause as { readonly code?: unknown }).code === "ENOENT") throw opensslMissing(cause)
      const stderr = String((cause as { readonly stderr?: unknown }).stderr ?? "")
      throw new Error(`openssl ${args.join(" ")} failed: ${stderr}`, { cause })
    }
  }
  const read = (name: string): string => Fs.readFileSync(Path.join(dir, name), "utf8")
  const pair = (name: string): KeyPair => ({ cert: read(`${name}.pem`), key: read(`${name}.key`) })
  const newKey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
  const makeCa = (name: string, subject: string): void =>
    openssl(
      "req",
      "-x509",
      ...newKey,
      "-keyout",
      `${name}.key`,
      "-out",
      `${name}.pem`,
      "-days",
      "3650",
      "-subj",
      subject,
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign"
    )
  const request = (name: string, commonName: string): void =>
    openssl("req", "-new", ...newKey, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${commonName}`)
  const sign = (ca: string, name: string, extensions: string, validity: ReadonlyArray<string>): void =>
    openssl(
      "ca",
      "-batch",
      "-config",
      "ca.cnf",
      "-cert",
      `${ca}.pem`,
      "-keyfile",
      `${ca}.key`,
      "-in",
      `${name}.csr`,
      "-out",
      `${name}.pem`,
      "-extensions",
      extensions,
      "-notext",
      ...validity
    )
  const days = ["-days", "30"]
  Fs.writeFileSync(Path.join(dir, "ca.cnf"), caConfig)
  Fs.writeFileSync(Path.join(dir, "index.txt"), "")
  Fs.writeFileSync(Path.join(dir, "serial"), "1000\n")
  try {
    ChildProcess.execFileSync("openssl", ["version"], { stdio: "ignore" })
  } catch (cause) {
    throw opensslMissing(cause)
  }
  makeCa("ca", "/CN=effect-tcp test CA")
  makeCa("other-ca", "/CN=effect-tcp stranger CA")
  request("server", "localhost")
  sign("ca", "server", "server", days)
  request("client", "test client")
  sign("ca", "client", "client", days)
  request("expired", "localhost")
  sign("ca", "expired", "server", ["-startdate", "20200101000000Z", "-enddate", "20200102000000Z"])
  request("not-yet-valid", "localhost")
  sign("ca", "not-yet-valid", "server", ["-startdate", "21000101000000Z", "-enddate", "21010101000000Z"])
  request("other-host", "other.example")
  sign("ca", "other-host", "other_host", days)
  request("stranger", "stranger")
  sign("other-ca", "stranger", "client", days)
  openssl(
    "req",
    "-x509",
    ...newKey,
    "-keyout",
    "self-signed.key",
    "-out",
    "self-signed.pem",
    "-days",
    "30",
    "-subj",
    "/CN=localhost",
    "-addext",
    "subjectAltName=DNS:localhost,IP:127.0.0.1"
  )
  return {
    ca: read("ca.pem"),
    server: pair("server"),
    client: pair("client"),
    expired: pair("expired"),
    notYetValid: pair("not-yet-valid"),
    selfSigned: pair("self-signed"),
    otherHost: pair("other-host"),
    otherCa: read("other-ca.pem"),
    strangerClient: pair("stranger")
  }
}

let made: Certificates | undefined

/** The test certificates, made on first use in this process (a few hundred milliseconds), then cached. */
export const certificates = (): Certificates => made ??= make()
