// The npm socket.io-client against the c1m binary's Socket.IO endpoint,
// with the backend API publishing:
//
//   node sio-c1m.mjs CLIENT_URL API_URL MODE TRANSPORT [GOOD_TOKEN BAD_TOKEN]
//
// MODE rooms: a Socket.IO client subscribes to a room (the subscribe
// event), and publications through /api/publish reach it as events and a
// plain WebSocket client of the same topic as the published bytes.
// MODE recovery: the client's connection drops while the API publishes;
// it reconnects, recovers (same id, socket.recovered) and has every
// publication exactly once, in order.
// MODE everyroom: the same, in two rooms, with publications of both in
// flight on the connection when it drops (a proxy holds them back).
// MODE auth (the binary runs with -auth required): a bad token is refused
// with connect_error, a good one connects and its rooms follow its claims.
// TRANSPORT is polling, websocket or upgrade.
import { io } from "socket.io-client";
import net from "node:net";
import WebSocket from "ws";
import { at, main } from "./harness.mjs";

const [url, api, mode, transport, good, bad] = process.argv.slice(2);
const transports = { polling: ["polling"], websocket: ["websocket"], upgrade: ["polling", "websocket"] }[transport];
if (!transports) throw new Error(`unknown transport ${transport}`);
const opts = (extra = {}) => ({ transports, upgrade: transport === "upgrade", forceNew: true, ...extra });

const once = (socket, ev) => new Promise((resolve) => socket.once(ev, (...args) => resolve(args)));

async function connected(socket) {
  await new Promise((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("connect_error", (e) => reject(new Error(`connect_error: ${e.message}`)));
  });
}

async function publish(topic, body) {
  const resp = await fetch(`${api}/api/publish?topic=${encodeURIComponent(topic)}`, { method: "POST", body });
  if (!resp.ok) throw new Error(`publish: ${resp.status} ${await resp.text()}`);
}

// messages collects the "message" events of socket (their first
// argument), and lets a caller wait until n have come.
function messages(socket) {
  const got = [];
  let wake = null;
  socket.on("message", (data) => {
    got.push(data);
    if (wake) wake();
  });
  got.until = async (n) => {
    while (got.length < n) {
      at(`waiting for ${n} messages, have ${got.length}: ${JSON.stringify(got.slice(-3))}`);
      await new Promise((resolve) => (wake = resolve));
    }
  };
  return got;
}

async function rooms() {
  at("opening a WebSocket client of the topic");
  const ws = new WebSocket(url.replace("http", "ws") + "/ws?topic=news");
  const wsGot = [];
  ws.on("message", (data) => wsGot.push(String(data)));
  await new Promise((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  });

  at("connecting and subscribing");
  const socket = io(url, opts());
  const got = messages(socket);
  const chat = [];
  socket.on("chat", (...args) => chat.push(args));
  await connected(socket);
  const err = await socket.timeout(10_000).emitWithAck("subscribe", "news");
  if (err !== null) throw new Error(`subscribe: ${err}`);

  at("publishing through the API");
  await publish("news", "hello");
  await publish("news", '{"a":[1,2]}');
  await publish("news", '["chat",{"text":"hi"}]');
  await got.until(2);
  while (chat.length < 1) await new Promise((r) => setTimeout(r, 10));
  if (got[0] !== "hello" || JSON.stringify(got[1]) !== '{"a":[1,2]}' || JSON.stringify(chat[0][0]) !== '{"text":"hi"}') {
    throw new Error(`socket.io got ${JSON.stringify(got)} ${JSON.stringify(chat)}`);
  }
  while (wsGot.length < 3) await new Promise((r) => setTimeout(r, 10));
  if (wsGot[0] !== "hello" || wsGot[2] !== '["chat",{"text":"hi"}]') throw new Error(`ws got ${JSON.stringify(wsGot)}`);

  at("unsubscribing");
  if ((await socket.timeout(10_000).emitWithAck("unsubscribe", "news")) !== null) throw new Error("unsubscribe");
  await publish("news", "after");
  while (wsGot.length < 4) await new Promise((r) => setTimeout(r, 10));
  // The WebSocket client's copy came: had the socket still been in the
  // room, its copy (sent to this loop or the other at the same time)
  // would be here by a round trip later.
  await socket.timeout(10_000).emitWithAck("subscribe", "other");
  if (got.length !== 2) throw new Error(`after unsubscribing: ${JSON.stringify(got)}`);
  ws.close();
  socket.close();
  return { ok: true, mode, transport, socketio: got.length + chat.length, websocket: wsGot.length };
}

async function recovery() {
  const total = 60;
  at("connecting and subscribing");
  const socket = io(url, opts({ reconnectionDelay: 100, reconnectionDelayMax: 200 }));
  const got = messages(socket);
  await connected(socket);
  const id = socket.id;
  if ((await socket.timeout(10_000).emitWithAck("subscribe", "feed")) !== null) throw new Error("subscribe");

  at("publishing the first third");
  for (let i = 1; i <= total / 3; i++) await publish("feed", `m${i}`);
  await got.until(total / 3);

  at("dropping the connection while the API publishes");
  const dropped = once(socket, "disconnect");
  socket.io.engine.close(); // as a network failure: the client reconnects
  const [reason] = await dropped;
  // The client may be back before the publications are: wait for its
  // connect from now on.
  const back = once(socket, "connect");
  for (let i = total / 3 + 1; i <= (2 * total) / 3; i++) await publish("feed", `m${i}`);

  at(`reconnecting after ${reason}`);
  await back;
  at("reconnected");
  if (!socket.recovered) throw new Error("not recovered");
  if (socket.id !== id) throw new Error(`id ${socket.id}, was ${id}`);
  for (let i = (2 * total) / 3 + 1; i <= total; i++) await publish("feed", `m${i}`);
  await got.until(total);
  await new Promise((r) => setTimeout(r, 100)); // a duplicate would show now
  const want = Array.from({ length: total }, (_, i) => `m${i + 1}`);
  if (JSON.stringify(got) !== JSON.stringify(want)) throw new Error(`got ${JSON.stringify(got)}`);
  socket.close();
  return { ok: true, mode, transport, reason, received: got.length, recovered: true };
}

// cutter is a TCP proxy in front of the server: hold() drops what the
// server sends to the client from then on, on every connection (written,
// never received: in flight), cut() then ends every connection, as a
// network failure does, and new ones pass again.
async function cutter() {
  const target = new URL(url);
  const pairs = new Set();
  let holding = false; // new connections too (a poll opens one)
  const srv = net.createServer((c) => {
    const up = net.connect(Number(target.port), target.hostname);
    const pair = { c, up, held: holding };
    pairs.add(pair);
    up.on("data", (d) => pair.held || c.write(d));
    c.on("data", (d) => up.write(d));
    const end = () => {
      c.destroy();
      up.destroy();
      pairs.delete(pair);
    };
    c.on("close", end).on("error", end);
    up.on("close", end).on("error", end);
  });
  await new Promise((resolve) => srv.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${srv.address().port}`,
    hold: () => {
      holding = true;
      pairs.forEach((p) => (p.held = true));
    },
    cut: () => {
      holding = false;
      pairs.forEach((p) => (p.c.destroy(), p.up.destroy()));
    },
    close: () => srv.close(),
  };
}

async function deliveries() {
  const resp = await fetch(`${api}/api/stats`);
  return (await resp.json()).deliveries;
}

// everyroom: a client in two rooms, behind a proxy that stops passing
// what the server sends, so that publications to both rooms are written
// to its connection but never reach it; the proxy then cuts the
// connection, more are published, the client reconnects and recovers:
// each room has every publication once, in order, the ones that were in
// flight included.
async function everyroom() {
  const proxy = await cutter();
  at("connecting and subscribing to two rooms");
  const socket = io(proxy.url, opts({ reconnectionDelay: 100, reconnectionDelayMax: 200 }));
  const got = messages(socket);
  await connected(socket);
  const id = socket.id;
  if ((await socket.timeout(10_000).emitWithAck("subscribe", ["ra", "rb"])) !== null) throw new Error("subscribe");

  at("publishing, received");
  for (const [room, m] of [["ra", "a1"], ["rb", "b1"], ["ra", "a2"]]) await publish(room, m);
  await got.until(3); // the client's last offset is a2's

  at("publishing while the proxy holds back what the server sends");
  proxy.hold();
  const before = await deliveries();
  for (const [room, m] of [["rb", "b2"], ["ra", "a3"], ["rb", "b3"], ["ra", "a4"]]) await publish(room, m);
  while ((await deliveries()) < before + 4) await new Promise((r) => setTimeout(r, 10));

  at("cutting the connection");
  const dropped = once(socket, "disconnect");
  proxy.cut();
  const [reason] = await dropped;
  const back = once(socket, "connect");
  if (got.length !== 3) throw new Error(`got while held: ${JSON.stringify(got)}`);
  for (const [room, m] of [["rb", "b4"], ["ra", "a5"]]) await publish(room, m);

  at(`reconnecting after ${reason}`);
  await back;
  if (!socket.recovered) throw new Error("not recovered");
  if (socket.id !== id) throw new Error(`id ${socket.id}, was ${id}`);
  for (const [room, m] of [["ra", "a6"], ["rb", "b5"]]) await publish(room, m);
  await got.until(11);
  await new Promise((r) => setTimeout(r, 100)); // a duplicate would show now
  const ra = got.filter((m) => m.startsWith("a"));
  const rb = got.filter((m) => m.startsWith("b"));
  if (got.length !== 11 || ra.join() !== "a1,a2,a3,a4,a5,a6" || rb.join() !== "b1,b2,b3,b4,b5") {
    throw new Error(`got ${JSON.stringify(got)}`);
  }
  socket.close();
  proxy.close();
  return { ok: true, mode, transport, reason, got, recovered: true };
}

async function auth() {
  at("a bad token");
  const refused = io(url, opts({ auth: { token: bad }, reconnection: false }));
  const [e] = await once(refused, "connect_error");
  if (e.message !== "invalid token") throw new Error(`connect_error ${e.message}`);
  refused.close();

  at("no token");
  const anon = io(url, opts({ reconnection: false }));
  const [e2] = await once(anon, "connect_error");
  if (e2.message !== "token required") throw new Error(`connect_error ${e2.message}`);
  anon.close();

  at("a good token");
  const socket = io(url, opts({ auth: { token: good } }));
  await connected(socket);
  if ((await socket.timeout(10_000).emitWithAck("subscribe", "news")) !== null) throw new Error("subscribe to an allowed room");
  const denied = await socket.timeout(10_000).emitWithAck("subscribe", "private:x");
  if (denied !== "room not allowed") throw new Error(`subscribe to a protected room: ${denied}`);
  socket.close();
  return { ok: true, mode, transport };
}

main(() => ({ rooms, recovery, everyroom, auth })[mode]());
