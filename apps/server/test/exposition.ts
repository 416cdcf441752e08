// Reading the Prometheus text format in tests: a series' value by its exact name and labels, as the
// server wrote it (`echo_connection_errors_total{error="TimeoutError"}`), and the TYPE lines.

/** The value of one series, or `undefined` when the text has no such line. */
export const valueOf = (text: string, series: string): number | undefined => {
  const line = text.split("\n").find((line) => line.startsWith(`${series} `))
  return line === undefined ? undefined : Number(line.slice(series.length + 1))
}

/** The metric families declared, in order, one per `# TYPE` line. */
export const families = (text: string): ReadonlyArray<string> =>
  text.split("\n").filter((line) => line.startsWith("# TYPE ")).map((line) => line.split(" ")[2]!)
