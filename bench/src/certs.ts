/**
 * The TLS servers' certificate and the CA the raw client trusts, made when the bench runs: a CA and a
 * certificate for `localhost` and 127.0.0.1 it signs, with the `openssl` command line, as PEM files in a
 * temporary folder removed when the bench exits (the test certificates' maker,
 * packages/socket/test/tls/certFiles.ts). No key is committed or kept.
 *
 * Loaded by URL: a relative import across TypeScript projects cannot be rewritten for the build.
 */
import type * as CertFiles from "../../packages/socket/test/tls/certFiles.ts"

const maker = await import(
  new URL("../../packages/socket/test/tls/certFiles.ts", import.meta.url).href
) as typeof CertFiles

export interface TlsFiles {
  /** The CA's certificate: what the raw client trusts. */
  readonly ca: string
  /** The server's certificate and key, for `localhost` and 127.0.0.1. */
  readonly cert: string
  readonly key: string
}

let made: TlsFiles | { readonly skip: string } | undefined

/** The files, made on first use (about a second), or why they cannot be (no openssl): the TLS servers skip then. */
export const tlsFiles = (): TlsFiles | { readonly skip: string } => {
  if (made !== undefined) return made
  try {
    const files = maker.certificateFiles()
    made = { ca: files.ca, cert: files.server.cert, key: files.server.key }
  } catch (error) {
    made = { skip: `no certificate: ${error instanceof Error ? error.message.split("\n")[0] : String(error)}` }
  }
  return made
}
