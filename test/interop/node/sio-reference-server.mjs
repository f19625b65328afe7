// The reference servers of c1m's Socket.IO and Engine.IO tests: the npm
// `socket.io` and `engine.io` servers (pinned in package-lock.json),
// configured as the official protocol test suites ask and as
// examples/socketio is, so that a Go test can run one table of wire cases
// against both and hold c1m to the answers the reference gives.
//
//   node sio-reference-server.mjs [-addr HOST:PORT] [-engineio-echo | -rooms]
//
// Modes:
//   (default)       the socket.io-protocol test-suite server on /socket.io/:
//                   on "/" and "/custom" it emits `auth` with the handshake's
//                   auth payload; on "/" `message` is answered by
//                   `message-back` with the same arguments and
//                   `message-with-ack` calls its ack with them.
//   -engineio-echo  plain Engine.IO v4 on /engine.io/, echoing every text and
//                   binary message (the engine.io-protocol test-suite server).
//                   Besides the suite, as examples/socketio: `ask` makes the
//                   server emit `question` with an ack and send the answer
//                   back as `answer`; `bye` makes it disconnect the socket.
//   -rooms          the suite server plus what the c1m binary's default
//                   handler offers: `subscribe`/`unsubscribe` events with a
//                   room name (acked with null), connection state recovery, a token
//                   check (auth.token must equal -token when -token is set),
//                   and POST /api/publish?topic=ROOM whose body reaches the
//                   room's sockets as the event `message` with the body as
//                   its argument, as c1m's /api/publish does.
//
// Common settings (the suites'): pingInterval 300 ms, pingTimeout 200 ms
// (-ping-interval, -ping-timeout; 25 s and 20 s with -rooms), maxPayload
// 1,000,000 bytes, connectTimeout 1 s, CORS open. The first line
// on stdout is "listening HOST:PORT"; SIGTERM closes every client and exits.
import { createServer } from "node:http";
import { Server } from "socket.io";
import { attach } from "engine.io";

const args = process.argv.slice(2);
const flag = (name) => args.includes(name);
const value = (name, def) => {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : def;
};

const addr = value("-addr", "127.0.0.1:0");
const [host, port] = [addr.slice(0, addr.lastIndexOf(":")), Number(addr.slice(addr.lastIndexOf(":") + 1))];
// ms reads a duration flag as Go writes it: "300ms", "5s" (or bare ms).
const ms = (name, def) => {
  const m = /^(\d+)(ms|s)?$/.exec(value(name, def));
  if (!m) throw new Error(`${name}: want a duration such as 300ms or 5s`);
  return Number(m[1]) * (m[2] === "s" ? 1000 : 1);
};
// -rooms serves long-lived clients: engine.io's default heartbeat (25 s,
// 20 s), as the c1m binary's, unless the flags say otherwise.
const rooms = flag("-rooms");
const intervals = {
  pingInterval: ms("-ping-interval", rooms ? "25s" : "300ms"),
  pingTimeout: ms("-ping-timeout", rooms ? "20s" : "200ms"),
  maxHttpBufferSize: 1e6,
  cors: { origin: "*" },
};

// The publish endpoint of -rooms; engine.io and socket.io hand this
// listener every request that is not theirs.
let publish = null;
const http = createServer((req, res) => {
  const url = new URL(req.url, "http://x");
  if (publish && req.method === "POST" && url.pathname === "/api/publish") {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const topic = url.searchParams.get("topic");
      publish(topic, Buffer.concat(chunks).toString("utf8"));
      res.writeHead(200, { "Content-Type": "application/json" });
      res.end(JSON.stringify({ topic }) + "\n");
    });
    return;
  }
  res.writeHead(404).end();
});
let close;

if (flag("-engineio-echo")) {
  const engine = attach(http, { ...intervals, path: "/engine.io/" });
  engine.on("connection", (socket) => {
    socket.on("message", (data) => socket.send(data));
  });
  close = () => engine.close();
} else {
  const token = value("-token", "");
  const io = new Server(http, {
    ...intervals,
    connectTimeout: 1000,
    ...(rooms ? { connectionStateRecovery: { maxDisconnectionDuration: 2 * 60 * 1000 } } : {}),
  });
  const greet = (socket) => socket.emit("auth", socket.handshake.auth);
  if (rooms && token) {
    io.use((socket, next) => {
      if (socket.handshake.auth?.token === token) return next();
      const err = new Error("invalid token");
      err.data = { reason: "the token does not match" };
      next(err);
    });
  }
  io.on("connection", (socket) => {
    if (!socket.recovered) greet(socket);
    socket.on("message", (...a) => socket.emit("message-back", ...a));
    socket.on("message-with-ack", (...a) => {
      const ack = a.pop();
      ack(...a);
    });
    // Besides the suite, as examples/socketio: "ask" makes the server emit
    // "question" with an ack, and the client's answer comes back as the
    // event "answer" (acks from the server's side); "bye" makes the server
    // disconnect the socket (with true, the whole client).
    socket.on("ask", (...a) => {
      socket.timeout(5000).emit("question", ...a, (err, ...reply) => {
        if (err) socket.emit("no answer", err.message);
        else socket.emit("answer", ...reply);
      });
    });
    socket.on("bye", (all) => socket.disconnect(all === true));
    if (rooms) {
      socket.on("subscribe", (room, ack) => {
        socket.join(room);
        if (typeof ack === "function") ack(null);
      });
      socket.on("unsubscribe", (room, ack) => {
        socket.leave(room);
        if (typeof ack === "function") ack(null);
      });
    }
  });
  io.of("/custom").on("connection", greet);
  if (rooms) publish = (topic, data) => io.to(topic).emit("message", data);
  close = () => io.close();
}

http.listen(port, host, () => {
  const a = http.address();
  process.stdout.write(`listening ${a.address}:${a.port}\n`);
});

// The exit timer comes first, so that nothing close() does (or throws)
// can keep the process from ending within 2 s.
process.on("SIGTERM", () => {
  setTimeout(() => process.exit(0), 2000);
  try {
    close();
  } finally {
    http.close(() => process.exit(0));
  }
});
