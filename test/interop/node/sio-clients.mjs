// The official npm clients, unchanged (socket.io-client and
// engine.io-client, pinned in package-lock.json), against a Socket.IO or
// Engine.IO server, reporting to the Go test through harness.mjs
// (socketio_clients_test.go). TRANSPORT is how the client may connect:
// "polling" only, "websocket" only, or "upgrade" (polling first, then the
// upgrade to WebSocket, which the script waits for and checks).
//
//   node sio-clients.mjs suite URL TRANSPORT
//     against the socket.io-protocol test-suite server (examples/socketio):
//     auth payload, events, binary, acks, order, a large event, a custom
//     namespace, an unknown one refused, an ack asked by the server, a
//     server-side disconnect, a client-side disconnect.
//   node sio-clients.mjs eio URL TRANSPORT
//     engine.io-client against an Engine.IO echo (/engine.io/): text,
//     UTF-8, binary, order, a large message, close.
//   node sio-clients.mjs rooms URL TRANSPORT PLAN_JSON
//     a conversation with the test about a room (see runRooms).
import { createRequire } from "node:module";
import { isDeepStrictEqual } from "node:util";
import { io } from "socket.io-client";
import { Socket as EngineSocket } from "engine.io-client";
import { at, hear, main, say } from "./harness.mjs";
import { RoomSequence } from "./sio-publications.mjs";

const require = createRequire(import.meta.url);
const versions = {
  "socket.io-client": require("socket.io-client/package.json").version,
  "engine.io-client": require("engine.io-client/package.json").version,
};
const [mode, url, transport, planArg] = process.argv.slice(2);

const transports = { polling: ["polling"], websocket: ["websocket"], upgrade: ["polling", "websocket"] };

// once resolves with the arguments of emitter's next event ev; an error
// event (connect_error, error) rejects it.
function once(emitter, ev, failOn = []) {
  return new Promise((resolve, reject) => {
    const off = () => {
      emitter.off(ev, ok);
      for (const f of failOn) emitter.off(f, bad);
    };
    const ok = (...a) => {
      off();
      resolve(a);
    };
    const bad = (e) => {
      off();
      reject(new Error(`${failOn.join("/")} while waiting for ${ev}: ${e && e.message ? e.message : e}`));
    };
    emitter.on(ev, ok);
    for (const f of failOn) emitter.on(f, bad);
  });
}

// same fails unless got deep-equals want.
function same(what, got, want) {
  if (!isDeepStrictEqual(got, want)) throw new Error(`${what}: got ${show(got)}, want ${show(want)}`);
}

function show(v) {
  return JSON.stringify(v, (_, x) => (x && x.type === "Buffer" ? `<Buffer ${x.data}>` : x));
}

// openedOver records the transport that an Engine.IO socket (or a
// manager's) opens with, read when it opens: an upgrade may follow at once.
function openedOver(emitter, engine) {
  const seen = { name: "" };
  emitter.once("open", () => (seen.name = engine().transport.name));
  return seen;
}

// settle checks the transport an Engine.IO socket opened with (first.name)
// and, in upgrade mode, waits for the upgrade to WebSocket. It returns the
// names.
async function settle(engine, seen) {
  const first = seen.name;
  const want = transport === "websocket" ? "websocket" : "polling";
  if (first !== want) throw new Error(`connected over ${first}, want ${want}`);
  if (transport === "upgrade") {
    at("waiting for the upgrade to WebSocket");
    if (engine.transport.name !== "websocket") await once(engine, "upgrade", ["upgradeError"]);
  }
  return [first, engine.transport.name];
}

// ack emits ev with args and an acknowledgement callback, and resolves
// with the arguments of the server's ack.
function ack(socket, ev, ...args) {
  return new Promise((resolve) => socket.emit(ev, ...args, (...a) => resolve(a)));
}

async function runSuite() {
  const cases = [];
  const auth = { token: "abc", n: 1, nested: { list: [1, "2", true, null] } };
  const socket = io(url, { transports: transports[transport], auth, reconnection: false });
  const seen = openedOver(socket.io, () => socket.io.engine);
  at("connecting to /");
  const [gotAuth] = await once(socket, "auth", ["connect_error"]);
  same("auth event", gotAuth, auth);
  cases.push("auth");
  const used = await settle(socket.io.engine, seen);

  const args = [1, "2", { 3: [true] }, null, "héllo €亜Б 😀"];
  at("event");
  socket.emit("message", ...args);
  same("message-back", await once(socket, "message-back"), args);
  cases.push("event");

  const bin = [Buffer.from([1, 2, 3]), { nested: Buffer.from([4, 5]), list: [Buffer.alloc(0), "x"] }];
  at("binary");
  socket.emit("message", ...bin);
  same("binary message-back", await once(socket, "message-back"), bin);
  cases.push("binary");

  at("ack");
  same("ack", await ack(socket, "message-with-ack", ...args), args);
  cases.push("ack");
  at("binary-ack");
  same("binary ack", await ack(socket, "message-with-ack", ...bin), bin);
  cases.push("binary-ack");

  const n = 100;
  at(`ordered/${n}`);
  const backs = [];
  const all = new Promise((resolve) => {
    const h = (i) => {
      backs.push(i);
      if (backs.length === n) {
        socket.off("message-back", h);
        resolve();
      }
    };
    socket.on("message-back", h);
  });
  for (let i = 0; i < n; i++) socket.emit("message", i);
  await all;
  same("100 events in order", backs, [...Array(n).keys()]);
  cases.push(`ordered/${n}`);

  const large = "x".repeat(500_000);
  at("large");
  socket.emit("message", large);
  const [back] = await once(socket, "message-back");
  if (back !== large) throw new Error(`large message-back: ${typeof back} of length ${back && back.length}`);
  cases.push("large/500000");

  at("connecting to /custom");
  const custom = io(url + "/custom", { transports: transports[transport], auth: { ns: "custom" }, reconnection: false });
  const [customAuth] = await once(custom, "auth", ["connect_error"]);
  same("/custom auth event", customAuth, { ns: "custom" });
  if (custom.io !== socket.io) throw new Error("/custom did not share the connection of /");
  cases.push("namespace");

  at("connecting to /random");
  const random = io(url + "/random", { transports: transports[transport], reconnection: false });
  const [err] = await once(random, "connect_error", ["connect"]);
  same("/random connect_error", err.message, "Invalid namespace");
  cases.push("namespace-refused");

  custom.disconnect();
  await serverSide(socket, cases);
  at("client-disconnect");
  const closed = once(socket, "disconnect");
  socket.disconnect();
  same("disconnect reason", (await closed)[0], "io client disconnect");
  cases.push("client-disconnect");
  return { ok: true, cases, transports: used, library: `socket.io-client ${versions["socket.io-client"]}` };
}

async function runEngine() {
  const cases = [];
  const socket = new EngineSocket(url, { path: "/engine.io/", transports: transports[transport] });
  socket.binaryType = "nodebuffer";
  const seen = openedOver(socket, () => socket);
  at("opening");
  await once(socket, "open", ["error", "close"]);
  const used = await settle(socket, seen);
  const echo = async (data) => {
    socket.send(data);
    const [got] = await once(socket, "message", ["close"]);
    same("echo", got, data);
  };
  await echo("hello");
  cases.push("text");
  await echo("héllo €亜Б 😀 \u2028");
  cases.push("utf8");
  await echo(Buffer.from([0, 1, 2, 253, 254, 255]));
  cases.push("binary");
  await echo("y".repeat(500_000));
  cases.push("large/500000");
  const n = 200;
  const got = [];
  const all = new Promise((resolve) => {
    const h = (m) => {
      got.push(m);
      if (got.length === n) {
        socket.off("message", h);
        resolve();
      }
    };
    socket.on("message", h);
  });
  const want = [];
  for (let i = 0; i < n; i++) {
    const m = i % 10 === 9 ? Buffer.from([i & 0xff, 0xff]) : `#${i}`;
    want.push(m);
    socket.send(m);
  }
  await all;
  same(`${n} messages in order`, got, want);
  cases.push(`ordered/${n}`);
  const closed = once(socket, "close");
  socket.close();
  same("close reason", (await closed)[0], "forced close");
  cases.push("close");
  return { ok: true, cases, transports: used, library: `engine.io-client ${versions["engine.io-client"]}` };
}

// serverSide checks what the server starts, on a server with the "ask"
// and "bye" events (examples/socketio, the reference): an acknowledgement
// the server asks for (it emits "question" with an ack; the client's
// answer, with binary, comes back as "answer"), and a server-side
// disconnect (the socket then connects again).
async function serverSide(socket, cases) {
  at("server-ack");
  socket.once("question", (...a) => {
    const answer = a.pop();
    answer("answer to", ...a, Buffer.from([7, 8]));
  });
  const answered = once(socket, "answer", ["no answer"]);
  socket.emit("ask", "q1", { n: 1 });
  same("the answer", await answered, ["answer to", "q1", { n: 1 }, Buffer.from([7, 8])]);
  cases.push("server-ack");
  at("server-disconnect");
  const gone = once(socket, "disconnect");
  socket.emit("bye");
  same("disconnect reason", (await gone)[0], "io server disconnect");
  socket.connect();
  await once(socket, "connect", ["connect_error"]);
  cases.push("server-disconnect");
}

// runRooms talks with the test about one room, on a server with rooms
// (the reference's -rooms mode, the c1m binary). PLAN_JSON is
//   {token, badToken, subscribe: [EVENT, ARGS...], n, missed, live, serverSide}
// 1. with badToken (when set): connect_error, and no connection;
// 2. connect with {token} (or no auth), emit subscribe (acked), say
//    "subscribed"; the test publishes 1..n to the room, which must arrive
//    in order; say "received";
// 3. drop the connection (the Engine.IO socket closes under the Socket.IO
//    one, as when a network drops), say "away"; the test publishes
//    n+1..n+missed and says "published"; reconnect: the socket must be
//    recovered, and get n+1..n+missed; say "back"; the test publishes
//    live more, which must follow in order, none twice;
// 4. with serverSide, the server's ack and disconnect (serverSide); then
//    a client-side disconnect.
async function runRooms() {
  const plan = JSON.parse(planArg);
  const cases = [];
  const opts = { transports: transports[transport], reconnection: false, forceNew: true };
  if (plan.badToken) {
    at("connecting with a bad token");
    const bad = io(url, { ...opts, auth: { token: plan.badToken } });
    const [err] = await once(bad, "connect_error", ["connect"]);
    if (bad.connected) throw new Error("connected with a bad token");
    bad.close();
    cases.push("auth-refused");
    say("refused", { message: err.message, data: err.data ?? null });
  }
  const socket = io(url, { ...opts, ...(plan.token ? { auth: { token: plan.token } } : {}) });
  const seen = openedOver(socket.io, () => socket.io.engine);
  at("connecting");
  await once(socket, "connect", ["connect_error"]);
  if (plan.token) cases.push("auth-accepted");
  const used = await settle(socket.io.engine, seen);
  const seq = new RoomSequence(1, plan.n + plan.missed + plan.live);
  const offsets = [];
  let wake = null;
  socket.on("message", (text, ...rest) => {
    seq.take(text);
    if (rest.length > 0) offsets.push(rest[rest.length - 1]);
    if (wake) wake();
  });
  // until resolves once the sequence has reached count (or broke).
  const until = (count) =>
    new Promise((resolve, reject) => {
      const check = () => {
        if (seq.error) return reject(new Error(seq.error));
        if (seq.got >= count) {
          wake = null;
          return resolve();
        }
        wake = check;
      };
      check();
    });
  at("subscribing");
  const [subscribeEvent, ...subscribeArgs] = plan.subscribe;
  const subscribed = await ack(socket, subscribeEvent, ...subscribeArgs);
  say("subscribed", { ack: subscribed, sid: socket.id });
  await until(plan.n);
  cases.push(`room/${plan.n}`);
  say("received");

  if (plan.missed > 0) {
    const id = socket.id;
    const gone = once(socket, "disconnect");
    socket.io.engine.close();
    const [reason] = await gone;
    say("away", { reason });
    await hear("published");
    at("reconnecting");
    socket.connect();
    await once(socket, "connect", ["connect_error"]);
    if (!socket.recovered) throw new Error(`reconnected without recovery (id ${socket.id}, was ${id})`);
    if (socket.id !== id) throw new Error(`recovered with id ${socket.id}, was ${id}`);
    await until(plan.n + plan.missed);
    say("back");
    await until(plan.n + plan.missed + plan.live);
    cases.push(`recovery/${plan.missed}+${plan.live}`);
  }

  if (plan.serverSide) await serverSide(socket, cases);
  const closed = once(socket, "disconnect");
  socket.disconnect();
  same("disconnect reason", (await closed)[0], "io client disconnect");
  cases.push("client-disconnect");
  return { ok: true, cases, transports: used, got: seq.got, offsets: offsets.length, library: `socket.io-client ${versions["socket.io-client"]}` };
}

main(async () => {
  if (!url || !transports[transport]) throw new Error("usage: node sio-clients.mjs suite|eio|rooms URL polling|websocket|upgrade [PLAN_JSON]");
  switch (mode) {
    case "suite":
      return runSuite();
    case "eio":
      return runEngine();
    case "rooms":
      return runRooms();
  }
  throw new Error(`unknown mode ${mode}`);
});
