// The test certificates as PEM files (packages/socket/test/tls/certFiles.ts, made with openssl when the
// tests run). Loaded by URL: a relative import across TypeScript projects cannot be rewritten for the
// build, and a test has no package to import it from.
import type * as CertFiles from "../../socket/test/tls/certFiles.ts"

const module = await import(new URL("../../socket/test/tls/certFiles.ts", import.meta.url).href) as typeof CertFiles

export type CertificateFiles = CertFiles.CertificateFiles
export const certificateFiles: () => CertFiles.CertificateFiles = module.certificateFiles
