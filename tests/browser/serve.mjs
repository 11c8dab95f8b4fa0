// Serves the test page (index.html and the esbuild bundle in dist/) on
// loopback. Usage: node serve.mjs <port>. Prints "listening <port>" when ready.
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

const root = dirname(fileURLToPath(import.meta.url));
const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0) {
  console.error("usage: node serve.mjs <port>");
  process.exit(2);
}

const files = {
  "/": ["index.html", "text/html; charset=utf-8"],
  "/index.html": ["index.html", "text/html; charset=utf-8"],
  "/dist/app.js": ["dist/app.js", "text/javascript; charset=utf-8"],
  "/dist/app.js.map": ["dist/app.js.map", "application/json"],
};

const server = createServer(async (req, res) => {
  const path = new URL(req.url ?? "/", "http://page").pathname;
  const file = files[path];
  if (req.method !== "GET" || !file) {
    res.writeHead(path === "/favicon.ico" ? 204 : 404, { "cache-control": "no-store" });
    res.end();
    return;
  }
  try {
    const body = await readFile(join(root, file[0]));
    res.writeHead(200, { "content-type": file[1], "cache-control": "no-store" });
    res.end(body);
  } catch (e) {
    res.writeHead(500, { "content-type": "text/plain" });
    res.end(String(e));
  }
});

server.listen(port, "127.0.0.1", () => console.log(`listening ${port}`));
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
