// The official Node socket.io server as a bench peer: Socket.IO at
// /socket.io/ (WebSocket and long-polling, the defaults otherwise: no
// compression, no connection state recovery). A client joins a room by
// emitting "join" with its name; the ack (the room's name) says it is in.
// On the API port, POST /publish?topic=T emits "message" with the body,
// as a string, to room T; GET /stats counts the sockets in a room and
// reports V8's heap (?gc=1 collects first: run with --expose-gc). One
// process, one thread. -ping-interval and -ping-timeout (ms, the
// library's defaults 25000 and 20000) are for tests; ?binary=1 on
// /publish emits the body as a Buffer (a binary attachment).
import http from "node:http";
import { Server } from "socket.io";

const arg = (name, def) => {
  const i = process.argv.indexOf("-" + name);
  return i > 0 ? process.argv[i + 1] : def;
};
const split = (a) => { const i = a.lastIndexOf(":"); return [a.slice(0, i), Number(a.slice(i + 1))]; };
let joined = 0;

const server = http.createServer();
const io = new Server(server, {
  serveClient: false,
  transports: ["polling", "websocket"],
  pingInterval: Number(arg("ping-interval", 25000)),
  pingTimeout: Number(arg("ping-timeout", 20000)),
});
io.on("connection", (socket) => {
  let inRoom = false;
  socket.on("join", (room, ack) => {
    if (typeof room !== "string") return;
    socket.join(room);
    if (!inRoom) { inRoom = true; joined++; }
    if (typeof ack === "function") ack(room);
  });
  socket.on("disconnect", () => { if (inRoom) joined--; });
});
const [host, port] = split(arg("addr", "127.0.0.1:9001"));
// Node's default accept queue (511) is shorter than the bench's 1,024
// handshakes in flight (two workers): connections reset at 19,000.
server.listen({ port, host, backlog: 4096 });

const api = http.createServer((req, res) => {
  const url = new URL(req.url, "http://x");
  if (req.method === "POST" && url.pathname === "/publish") {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const room = url.searchParams.get("topic") || "";
      const body = Buffer.concat(chunks);
      io.to(room).emit("message", url.searchParams.get("binary") === "1" ? body : body.toString());
      res.end(JSON.stringify({ subscribers: io.sockets.adapter.rooms.get(room)?.size || 0 }));
    });
    return;
  }
  if (url.pathname === "/stats") {
    if (url.searchParams.get("gc") === "1" && global.gc) global.gc();
    const m = process.memoryUsage();
    res.end(JSON.stringify({ connections: joined, heap_alloc_bytes: m.heapUsed, heap_inuse_bytes: m.heapUsed }));
    return;
  }
  res.writeHead(404);
  res.end();
});
const [ahost, aport] = split(arg("api", "127.0.0.1:9002"));
api.listen(aport, ahost);
process.on("SIGINT", () => process.exit(0));
