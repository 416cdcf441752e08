// Node's TLS errors as Python's `ssl` errors, in one place for both layers (both run node:tls):
//
//   a certificate that did not verify (`CERT_HAS_EXPIRED`, ...)   SSLCertVerificationError
//   the host name check (`ERR_TLS_CERT_ALTNAME_INVALID`)           SSLCertVerificationError, HOSTNAME_MISMATCH
//   OpenSSL's own (`ERR_SSL_*`, `ERR_OSSL_*`: alerts, bad records,
//     a peer that does not speak TLS, a bad key in the options)   SSLError, OpenSSL's reason
//   the TCP connection ended during the handshake                  SSLEOFError
//   anything else (a reset, EPIPE)                                 the OSError for its errno
import * as Net from "node:net"
import * as OSError from "../../OSError.ts"

/** OpenSSL's `SSL_ERROR_*` numbers, as Python's `ssl` module has them. */
const SSL_ERROR_SSL = 1
const SSL_ERROR_EOF = 8

type SSLTag = (typeof OSError.sslTags)[number]
type VerifyReason = OSError.SSLCertVerificationError["reason"]

/** Where the error happened: the address an error names, and the step (`handshake`, `read`, `connect`...). */
export interface Where {
  readonly syscall: string
  readonly host?: string | undefined
  readonly port?: number | undefined
  readonly path?: string | undefined
}

/** OpenSSL's verify codes (X509_V_ERR_*, as Node names them), and what kind of failure each is. */
const verifyReasons: Record<string, VerifyReason> = {
  CERT_HAS_EXPIRED: "expired",
  CERT_NOT_YET_VALID: "not-yet-valid",
  DEPTH_ZERO_SELF_SIGNED_CERT: "self-signed",
  SELF_SIGNED_CERT_IN_CHAIN: "self-signed",
  UNABLE_TO_GET_ISSUER_CERT: "unknown-issuer",
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: "unknown-issuer",
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: "unknown-issuer",
  CERT_REVOKED: "revoked",
  HOSTNAME_MISMATCH: "hostname-mismatch",
  IP_ADDRESS_MISMATCH: "hostname-mismatch",
  UNABLE_TO_GET_CRL: "other",
  UNABLE_TO_DECRYPT_CERT_SIGNATURE: "other",
  UNABLE_TO_DECRYPT_CRL_SIGNATURE: "other",
  UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY: "other",
  CERT_SIGNATURE_FAILURE: "other",
  CRL_SIGNATURE_FAILURE: "other",
  CRL_NOT_YET_VALID: "other",
  CRL_HAS_EXPIRED: "other",
  ERROR_IN_CERT_NOT_BEFORE_FIELD: "other",
  ERROR_IN_CERT_NOT_AFTER_FIELD: "other",
  ERROR_IN_CRL_LAST_UPDATE_FIELD: "other",
  ERROR_IN_CRL_NEXT_UPDATE_FIELD: "other",
  CERT_CHAIN_TOO_LONG: "other",
  INVALID_CA: "other",
  PATH_LENGTH_EXCEEDED: "other",
  INVALID_PURPOSE: "other",
  CERT_UNTRUSTED: "other",
  CERT_REJECTED: "other"
}

/** OpenSSL's libraries as Python names them in `[X509: KEY_VALUES_MISMATCH]`. */
const libraries: Record<string, string> = {
  "SSL routines": "SSL",
  "x509 certificate routines": "X509",
  "PEM routines": "PEM",
  "DECODER routines": "DECODER",
  "digital envelope routines": "EVP",
  "asn1 encoding routines": "ASN1"
}

interface NodeError {
  readonly code?: unknown
  readonly message?: unknown
  readonly reason?: unknown
  readonly library?: unknown
  readonly syscall?: unknown
  readonly host?: unknown
  readonly cert?: { readonly subjectaltname?: unknown } | undefined
}

const codeOf = (cause: unknown): string | undefined => {
  const code = (cause as NodeError | null)?.code
  return typeof code === "string" ? code : undefined
}

/** Node's words, without the hint it adds to verify errors ("; if the root CA is installed locally, ..."). */
const verifyMessageOf = (cause: NodeError): string => String(cause.message ?? "").split(";")[0]!.trim()

/** node:tls reports a client whose TCP connection ended during the handshake this way (no syscall). */
const isEofInHandshake = (cause: NodeError): boolean =>
  cause.code === "ECONNRESET" && cause.syscall === undefined &&
  String(cause.message).startsWith("Client network socket disconnected before secure TLS connection")

/** Is this one of node:tls's own errors (not the OS's), which `fromNode` maps? */
export const isTlsError = (cause: unknown): boolean => {
  const code = codeOf(cause)
  if (code === undefined) return false
  return code.startsWith("ERR_SSL_") || code.startsWith("ERR_OSSL_") || code === "ERR_TLS_CERT_ALTNAME_INVALID" ||
    code in verifyReasons || isEofInHandshake(cause as NodeError)
}

const address = (where: Where) => ({
  syscall: where.syscall,
  ...(where.host !== undefined ? { host: where.host } : {}),
  ...(where.port !== undefined ? { port: where.port } : {}),
  ...(where.path !== undefined ? { path: where.path } : {})
})

/** A certificate that did not verify, with OpenSSL's verify code and words. */
export const certificate = (
  verifyCode: string,
  verifyMessage: string,
  where: Where,
  detail?: string
): OSError.SSLCertVerificationError =>
  new OSError.SSLCertVerificationError({
    errno: SSL_ERROR_SSL,
    code: "SSL_ERROR_SSL",
    library: "SSL",
    reason: verifyReasons[verifyCode] ?? "other",
    verifyCode,
    verifyMessage,
    ...address(where),
    ...(detail !== undefined ? { detail } : {})
  })

/** An OpenSSL failure: `library` and `reason` as Python has them (`"X509"`, `"KEY_VALUES_MISMATCH"`). */
export const ssl = (library: string, reason: string, where: Where, detail?: string): OSError.SSLError =>
  new OSError.SSLError({
    errno: SSL_ERROR_SSL,
    code: "SSL_ERROR_SSL",
    library,
    reason,
    ...address(where),
    ...(detail !== undefined ? { detail } : {})
  })

/** The TCP connection ended (a FIN, no close_notify) during the handshake. */
export const eof = (where: Where): OSError.SSLEOFError =>
  new OSError.SSLEOFError({ errno: SSL_ERROR_EOF, code: "SSL_ERROR_EOF", library: "SSL", ...address(where) })

/** `ERR_OSSL_X509_KEY_VALUES_MISMATCH` with reason "key values mismatch": library X509, reason KEY_VALUES_MISMATCH. */
const openssl = (cause: NodeError, code: string, where: Where): OSError.SSLError => {
  const prefix = code.startsWith("ERR_SSL_") ? "ERR_SSL_" : "ERR_OSSL_"
  const text = typeof cause.reason === "string" ? cause.reason : undefined
  const reason = text !== undefined ? text.toUpperCase().replaceAll(" ", "_") : code.slice(prefix.length)
  const fromCode = code.endsWith(`_${reason}`) ? code.slice(prefix.length, -reason.length - 1) : ""
  const named = typeof cause.library === "string" ? libraries[cause.library] ?? cause.library : undefined
  const library = prefix === "ERR_SSL_" ? "SSL" : fromCode !== "" ? fromCode : named ?? "SSL"
  return ssl(library, reason, where)
}

/** The host name check: Python's words, and the names the certificate does carry. */
const hostnameMismatch = (
  cause: NodeError,
  where: Where,
  identity: string | undefined
): OSError.SSLCertVerificationError => {
  const host = identity ?? (typeof cause.host === "string" ? cause.host : where.host ?? "")
  const isIp = Net.isIP(host) !== 0
  const names = cause.cert?.subjectaltname
  return certificate(
    isIp ? "IP_ADDRESS_MISMATCH" : "HOSTNAME_MISMATCH",
    `${isIp ? "IP address" : "Hostname"} mismatch, certificate is not valid for '${host}'`,
    where,
    typeof names === "string" && names !== "" ? `it is valid for ${names}` : "it names no host"
  )
}

/**
 * One of node:tls's errors (see `isTlsError`) as its SSL error, kept to the tags `allowed` where the
 * operation cannot produce it (as `SSLError`, which every TLS operation can). `identity` is the name a
 * client checked the certificate against.
 */
export const fromNode = (
  cause: unknown,
  where: Where,
  allowed: ReadonlyArray<OSError.Tag>,
  identity?: string
): OSError.SSLErrorFamily => {
  const error = cause as NodeError
  const code = codeOf(cause) ?? ""
  const mapped: OSError.SSLErrorFamily = isEofInHandshake(error)
    ? eof(where)
    : code === "ERR_TLS_CERT_ALTNAME_INVALID"
    ? hostnameMismatch(error, where, identity)
    : code in verifyReasons
    ? certificate(code, verifyMessageOf(error), where)
    : openssl(error, code, where)
  if (allowed.includes(mapped._tag as SSLTag)) return mapped
  return ssl("SSL", mapped._tag === "SSLCertVerificationError" ? "CERTIFICATE_VERIFY_FAILED" : "UNEXPECTED_EOF", where)
}

/**
 * What a handshake met: node:tls's own errors as SSL errors, the OS's (a reset) as their OSError, each kept
 * to the tags `allowed` (those of `connect`, `accept` or `startTls`).
 */
export const handshake = (
  cause: unknown,
  where: Where,
  allowed: ReadonlyArray<OSError.Tag>,
  identity?: string
): OSError.SocketError => {
  if (isTlsError(cause)) return fromNode(cause, where, allowed, identity)
  const syscall = (cause as NodeError | null)?.syscall
  return OSError.fromSystemError(
    cause,
    { ...where, syscall: typeof syscall === "string" ? syscall : where.syscall },
    allowed
  )
}
