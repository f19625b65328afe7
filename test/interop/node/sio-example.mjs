// The npm socket.io-client against c1m's Socket.IO conformance server
// (examples/socketio), on one transport mode:
//
//   node sio-example.mjs URL polling|websocket|upgrade
//
// It checks events with JSON and binary arguments, acknowledgements both
// ways, namespaces (with their auth payloads), an unknown namespace's
// connect_error, rooms with a publication from another client, and
// server-side disconnects of one namespace and of the whole client. The
// report lists the checks that passed.
import { io } from "socket.io-client";
import { at, main } from "./harness.mjs";

const [url, mode] = process.argv.slice(2);
const transports = { polling: ["polling"], websocket: ["websocket"], upgrade: ["polling", "websocket"] }[mode];
if (!transports) throw new Error(`unknown mode ${mode}`);

const opts = (extra = {}) => ({ transports, upgrade: mode === "upgrade", reconnection: false, forceNew: true, ...extra });

// once waits for event ev on socket.
const once = (socket, ev) => new Promise((resolve) => socket.once(ev, (...args) => resolve(args)));

// connected opens a socket and waits for its connect, failing on
// connect_error.
async function connected(socket) {
  await new Promise((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("connect_error", (e) => reject(new Error(`connect_error: ${e.message}`)));
  });
}

function equal(a, b) {
  return JSON.stringify(a, (k, v) => (v && v.type === "Buffer" ? Array.from(v.data) : v)) ===
    JSON.stringify(b, (k, v) => (v && v.type === "Buffer" ? Array.from(v.data) : v));
}

// bytes returns a Buffer/ArrayBuffer's bytes as an array.
const bytes = (b) => Array.from(b instanceof ArrayBuffer ? new Uint8Array(b) : b);

main(async () => {
  const passed = [];

  at("connecting to / with an auth payload");
  const socket = io(url, opts({ auth: { token: "abc" } }));
  const authEvent = once(socket, "auth");
  await connected(socket);
  const [auth] = await authEvent;
  if (!equal(auth, { token: "abc" })) throw new Error(`auth event ${JSON.stringify(auth)}`);
  passed.push("connect with auth");

  if (mode === "upgrade" && socket.io.engine.transport.name !== "websocket") {
    at("upgrading");
    await new Promise((resolve) => socket.io.engine.once("upgrade", resolve));
  }

  at("event with JSON arguments");
  const args = [1, "2", { 3: [true], "é✓": null }, [1.5, -2]];
  const back = once(socket, "message-back");
  socket.emit("message", ...args);
  const got = await back;
  if (!equal(got, args)) throw new Error(`message-back ${JSON.stringify(got)}`);
  passed.push("event");

  at("event with binary arguments");
  const bin = once(socket, "message-back");
  socket.emit("message", Buffer.from([1, 2, 3]), { nested: Buffer.from([0, 255]) }, "text");
  const [b1, b2, b3] = await bin;
  if (!equal(bytes(b1), [1, 2, 3]) || !equal(bytes(b2.nested), [0, 255]) || b3 !== "text") {
    throw new Error(`binary message-back ${JSON.stringify([b1, b2, b3])}`);
  }
  passed.push("binary event");

  at("client to server ack");
  const acked = await socket.timeout(10_000).emitWithAck("message-with-ack", "x", { y: 2 }, Buffer.from([9]));
  // With a timeout the first argument is the error (null).
  if (!(acked === "x")) throw new Error(`ack ${JSON.stringify(acked)}`);
  const full = await new Promise((resolve) => socket.emit("message-with-ack", "x", { y: 2 }, Buffer.from([9]), (...a) => resolve(a)));
  if (full[0] !== "x" || !equal(full[1], { y: 2 }) || !equal(bytes(full[2]), [9])) throw new Error(`ack ${JSON.stringify(full)}`);
  passed.push("ack client to server");

  at("server to client ack");
  socket.once("question", (q, ack) => ack(`answer to ${q}`, { n: 1 }));
  const answer = once(socket, "answer");
  socket.emit("ask", "life");
  const ans = await answer;
  if (!equal(ans, ["answer to life", { n: 1 }])) throw new Error(`answer ${JSON.stringify(ans)}`);
  passed.push("ack server to client");

  at("custom namespace");
  // On the same Manager: one Engine.IO connection for both namespaces
  // (the socket connects on its own).
  const custom = socket.io.socket("/custom", { auth: { ns: "custom" } });
  const customAuth = once(custom, "auth");
  await connected(custom);
  const [ca] = await customAuth;
  if (!equal(ca, { ns: "custom" })) throw new Error(`custom auth ${JSON.stringify(ca)}`);
  passed.push("namespace");

  at("unknown namespace");
  const random = io(url + "/random", opts());
  const [err] = await once(random, "connect_error");
  if (err.message !== "Invalid namespace") throw new Error(`connect_error ${err.message}`);
  random.close();
  passed.push("unknown namespace refused");

  at("rooms");
  const other = io(url, opts());
  await connected(other);
  const sub = await socket.timeout(10_000).emitWithAck("subscribe", ["room-a", "room-b"]);
  if (sub !== null) throw new Error(`subscribe ack ${sub}`);
  const inRoom = once(socket, "message");
  const pub = await other.timeout(10_000).emitWithAck("publish", "room-b", { hello: "room" });
  if (pub !== null) throw new Error(`publish ack ${pub}`);
  const [roomMsg] = await inRoom;
  if (!equal(roomMsg, { hello: "room" })) throw new Error(`room message ${JSON.stringify(roomMsg)}`);
  passed.push("room publication");

  at("server disconnects one namespace");
  const customGone = once(custom, "disconnect");
  custom.emit("bye", false); // "/custom" has no bye handler: nothing happens there
  socket.emit("bye", false);
  const [reason] = await once(socket, "disconnect");
  if (reason !== "io server disconnect") throw new Error(`disconnect reason ${reason}`);
  if (!custom.connected) throw new Error("the other namespace went too");
  passed.push("server namespace disconnect");

  at("server ends the whole client");
  socket.connect();
  await connected(socket);
  socket.emit("bye", true);
  const [r1] = await once(socket, "disconnect");
  const [r2] = await customGone;
  if (r1 !== "io server disconnect" || r2 !== "io server disconnect") throw new Error(`reasons ${r1}, ${r2}`);
  passed.push("server client disconnect");

  at("client disconnect");
  other.disconnect();
  if (other.connected) throw new Error("still connected");
  passed.push("client disconnect");

  return { ok: true, transport: mode, passed };
});
