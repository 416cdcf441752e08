// What a TLS connection says about itself (`connection.tls`), read once, when its
// handshake is done: the handle that knows it is gone once the socket closes.
import type * as Crypto from "node:crypto"
import type * as NodeTls from "node:tls"
import type { PeerCertificate, TlsInfo } from "../../Tls.ts"

/** `"CN=localhost\nO=Example"` as `"CN=localhost, O=Example"`. */
const oneLine = (name: string): string => name.split("\n").filter((part) => part !== "").join(", ")

/** Node 22 has no `validFromDate`: its text (`"Jan  2 00:00:00 2020 GMT"`) parses as a date. */
const dateOf = (date: Date | undefined, text: string): Date => date ?? new Date(text)

const certificateOf = (x509: Crypto.X509Certificate): PeerCertificate => {
  const dated = x509 as Crypto.X509Certificate & { readonly validFromDate?: Date; readonly validToDate?: Date }
  return {
    subject: oneLine(x509.subject),
    issuer: oneLine(x509.issuer),
    subjectAltName: x509.subjectAltName,
    validFrom: dateOf(dated.validFromDate, x509.validFrom),
    validTo: dateOf(dated.validToDate, x509.validTo),
    fingerprint256: x509.fingerprint256,
    serialNumber: x509.serialNumber
  }
}

export const infoOf = (socket: NodeTls.TLSSocket, authorized: boolean): TlsInfo => {
  const peer = socket.getPeerX509Certificate()
  const alpn = socket.alpnProtocol
  return {
    protocol: socket.getProtocol() ?? "unknown",
    cipher: socket.getCipher().name,
    alpnProtocol: typeof alpn === "string" && alpn !== "" ? alpn : undefined,
    peerCertificate: peer === undefined ? undefined : certificateOf(peer),
    authorized
  }
}
