// The Node `ws` peer: WebSocket on /ws (?topic= subscribes, messages are
// echoed), POST /publish?topic=T and GET /stats on the API port. One
// process, one thread; run with --expose-gc so /stats?gc=1 can collect.
import http from "node:http";
import { WebSocketServer } from "ws";

const arg = (name, def) => {
  const i = process.argv.indexOf("-" + name);
  return i > 0 ? process.argv[i + 1] : def;
};
const split = (a) => { const i = a.lastIndexOf(":"); return [a.slice(0, i), Number(a.slice(i + 1))]; };
const topics = new Map();
let conns = 0;

const server = http.createServer((req, res) => { res.writeHead(404); res.end(); });
const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
server.on("upgrade", (req, socket, head) => {
  const url = new URL(req.url, "http://x");
  if (url.pathname !== "/ws") return socket.destroy();
  wss.handleUpgrade(req, socket, head, (ws) => {
    const topic = url.searchParams.get("topic") || "";
    if (!topics.has(topic)) topics.set(topic, new Set());
    topics.get(topic).add(ws);
    conns++;
    ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }));
    ws.on("close", () => { topics.get(topic).delete(ws); conns--; });
  });
});
const [host, port] = split(arg("addr", "127.0.0.1:9001"));
server.listen(port, host);

const api = http.createServer((req, res) => {
  const url = new URL(req.url, "http://x");
  if (req.method === "POST" && url.pathname === "/publish") {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const data = Buffer.concat(chunks);
      const subs = topics.get(url.searchParams.get("topic")) || new Set();
      for (const ws of subs) ws.send(data, { binary: true });
      res.end(JSON.stringify({ subscribers: subs.size }));
    });
    return;
  }
  if (url.pathname === "/stats") {
    if (url.searchParams.get("gc") === "1" && global.gc) global.gc();
    const m = process.memoryUsage();
    res.end(JSON.stringify({ connections: conns, heap_alloc_bytes: m.heapUsed, heap_inuse_bytes: m.heapUsed }));
    return;
  }
  res.writeHead(404);
  res.end();
});
const [ahost, aport] = split(arg("api", "127.0.0.1:9002"));
api.listen(aport, ahost);
process.on("SIGINT", () => process.exit(0));
