// Module hooks that write the URL of every module loaded to stderr, one `module: URL` line each.
export const load = async (url, context, nextLoad) => {
  process.stderr.write(`module: ${url}\n`)
  return nextLoad(url, context)
}
