// An OTLP/HTTP receiver for the tracing tests: a node:http server on 127.0.0.1, port 0, taking
// `POST /v1/traces` in OTLP/JSON (what the server sends), decoding every span with its resource.
import { once } from "node:events"
import * as Http from "node:http"
import type * as Net from "node:net"

/** An OTLP/JSON attribute value, as the exporter writes it. */
type AnyValue = { stringValue?: string; intValue?: number | string; boolValue?: boolean; doubleValue?: number }

type KeyValue = { key: string; value: AnyValue }

/** One span as received: its fields, and its attributes and its resource's as plain records. */
export interface Span {
  readonly name: string
  readonly kind: number
  readonly traceId: string
  readonly parentSpanId: string | undefined
  readonly startTimeUnixNano: string
  readonly endTimeUnixNano: string
  readonly status: { readonly code: number; readonly message?: string }
  readonly attributes: Record<string, unknown>
  readonly resource: Record<string, unknown>
}

const value = (any: AnyValue): unknown =>
  any.stringValue ?? (any.intValue !== undefined ? Number(any.intValue) : undefined) ?? any.boolValue ??
    any.doubleValue

const record = (attributes: ReadonlyArray<KeyValue> = []): Record<string, unknown> =>
  Object.fromEntries(attributes.map(({ key, value: v }) => [key, value(v)]))

/** The spans of one OTLP/JSON `ExportTraceServiceRequest`. */
export const decode = (body: string): Array<Span> => {
  const request = JSON.parse(body) as {
    resourceSpans: Array<{ resource: { attributes: Array<KeyValue> }; scopeSpans: Array<{ spans: Array<any> }> }>
  }
  return request.resourceSpans.flatMap(({ resource, scopeSpans }) =>
    scopeSpans.flatMap(({ spans }) =>
      spans.map((span): Span => ({
        name: span.name,
        kind: span.kind,
        traceId: span.traceId,
        parentSpanId: span.parentSpanId,
        startTimeUnixNano: span.startTimeUnixNano,
        endTimeUnixNano: span.endTimeUnixNano,
        status: span.status,
        attributes: record(span.attributes),
        resource: record(resource.attributes)
      }))
    )
  )
}

export interface Receiver {
  readonly url: string
  /** Every span received so far. */
  readonly spans: () => ReadonlyArray<Span>
  /** What else came: a request to another path, another method, or a body that is not OTLP/JSON. */
  readonly rejected: () => ReadonlyArray<string>
  readonly close: () => Promise<void>
}

/** Starts a receiver; the test closes it when it finishes. */
export const receiver = async (test: { readonly onTestFinished: (fn: () => Promise<void>) => void }) => {
  const spans: Array<Span> = []
  const rejected: Array<string> = []
  const server = Http.createServer((request, response) => {
    const chunks: Array<Buffer> = []
    request.on("data", (chunk: Buffer) => chunks.push(chunk))
    request.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8")
      const json = request.headers["content-type"]?.startsWith("application/json") === true
      if (request.method !== "POST" || request.url !== "/v1/traces" || !json) {
        rejected.push(`${request.method} ${request.url} ${request.headers["content-type"]}`)
        response.writeHead(404).end()
        return
      }
      try {
        spans.push(...decode(body))
      } catch (error) {
        rejected.push(`undecodable: ${String(error)}`)
        response.writeHead(400).end()
        return
      }
      response.writeHead(200, { "content-type": "application/json" }).end("{}")
    })
  })
  server.listen(0, "127.0.0.1")
  await once(server, "listening")
  const close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    })
  test.onTestFinished(close)
  const { port } = server.address() as Net.AddressInfo
  return { url: `http://127.0.0.1:${port}`, spans: () => spans, rejected: () => rejected, close } satisfies Receiver
}
