/**
 * The PEM files of the apps' TLS flags (`--tls-cert`, `--tls-key`,
 * `--tls-ca`): read and checked while the command line is parsed, so that a
 * missing, unreadable or malformed file, or a key that does not match its
 * certificate, is one line and exit 2 before anything binds or connects.
 *
 * @since 0.2.0
 */
import * as Flag from "effect/cli/Flag"
import * as Config from "effect/Config"
import type * as Option from "effect/Option"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as NodeTls from "node:tls"
import * as Flags from "./Flags.ts"

/**
 * What a file holds: a certificate and its chain, a private key, or the
 * certificates of the authorities to trust.
 *
 * @since 0.2.0
 * @category models
 */
export type Kind = "certificate" | "key" | "ca"

/**
 * A PEM file as read: where it came from, and its text.
 *
 * @since 0.2.0
 * @category models
 */
export interface PemFile {
  readonly path: string
  readonly pem: string
}

const what: Record<Kind, string> = {
  certificate: "a PEM certificate file",
  key: "a PEM private key file",
  ca: "a PEM file of CA certificates"
}

const certificateBlocks = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g

/** The first line of a thrown error's message, with its code when it has one. */
const reason = (cause: unknown): string => {
  const code = (cause as { readonly code?: unknown } | null)?.code
  const message = (cause instanceof Error ? cause.message : String(cause)).split("\n")[0]!
  return typeof code === "string" && !message.includes(code) ? `${code}: ${message}` : message
}

/** Why `pem` is not what a `kind` file must hold, or `undefined` when it is. */
const problem = (pem: string, kind: Kind): string | undefined => {
  if (kind === "key") {
    if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem)) {
      return "it holds no PEM private key (-----BEGIN PRIVATE KEY-----)"
    }
    try {
      Crypto.createPrivateKey(pem)
      return undefined
    } catch (cause) {
      return `it holds no usable private key (${reason(cause)})`
    }
  }
  const blocks = pem.match(certificateBlocks)
  if (blocks === null) return "it holds no PEM certificate (-----BEGIN CERTIFICATE-----)"
  for (const block of blocks) {
    try {
      void new Crypto.X509Certificate(block)
    } catch (cause) {
      return `a certificate in it does not parse (${reason(cause)})`
    }
  }
  return undefined
}

/**
 * Reads and checks a file of `kind`; throws an `Error` whose message is one
 * line saying what is wrong (the file is missing or unreadable, or holds no
 * certificate, or no private key).
 *
 * @since 0.2.0
 * @category reading
 */
export const read = (path: string, kind: Kind): PemFile => {
  let pem: string
  try {
    pem = Fs.readFileSync(path, "utf8")
  } catch (cause) {
    throw new Error(`Expected ${what[kind]}: cannot read it (${reason(cause)})`, { cause })
  }
  const wrong = problem(pem, kind)
  if (wrong !== undefined) throw new Error(`Expected ${what[kind]}: ${wrong}`)
  return { path, pem }
}

/**
 * An optional flag naming a PEM file of `kind`, also from its environment
 * variable, read and checked as it is parsed: a bad file is the flag's usage
 * error.
 *
 * @since 0.2.0
 * @category flags
 */
export const flag = (
  name: string,
  description: string,
  kind: Kind,
  options: Flags.Options = {}
): Flag.Flag<Option.Option<PemFile>> =>
  Flag.String(name).pipe(
    Flag.withMetavar("file"),
    Flag.withDescription(`${description} [env ${Flags.env(name, options.prefix)}]`),
    Flag.withFallbackConfig(Config.String(Flags.env(name, options.prefix))),
    Flag.mapTryCatch((path) => read(path, kind), (error) => error instanceof Error ? error.message : String(error)),
    Flag.optional
  )

/**
 * Why a certificate and a private key cannot be used together (the key does
 * not match the certificate, or OpenSSL refuses them), or `undefined` when
 * they can: what a TLS server or client would fail with on its first
 * handshake, said before it starts.
 *
 * @since 0.2.0
 * @category checking
 */
export const mismatch = (certificate: PemFile, key: PemFile): string | undefined => {
  try {
    const leaf = new Crypto.X509Certificate(certificate.pem)
    if (!leaf.checkPrivateKey(Crypto.createPrivateKey(key.pem))) {
      return `the key in ${key.path} does not match the certificate in ${certificate.path}`
    }
    NodeTls.createSecureContext({ cert: certificate.pem, key: key.pem })
    return undefined
  } catch (cause) {
    return `the certificate in ${certificate.path} and the key in ${key.path} cannot be used together (${
      reason(cause)
    })`
  }
}
