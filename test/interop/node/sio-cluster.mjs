// The npm socket.io-client in c1m's cluster test (broker/cluster_test.go,
// TestClusterFanout): Socket.IO clients spread over the nodes of a
// cluster, on each transport, in a conversation with the Go test through
// harness.mjs:
//
//   node sio-cluster.mjs PLAN_JSON
//
// PLAN_JSON is {"clients":[{"url","transport","room"}...],
// "publisher":URL,"listener":URL}. Each client connects to its node and
// joins its room (the subscribe event), then the script says
// "subscribed". The test publishes on random nodes and says "published"
// with "expect": {room: [bodies in offset order]}; each client must then
// have exactly its room's bodies, in that order, none twice. Last, a
// client on the publisher's node publishes with the publish event and
// must get a null ack, and a client of the same room on the listener's
// node must get the publication.
import { io } from "socket.io-client";
import { at, hear, main, say } from "./harness.mjs";

const plan = JSON.parse(process.argv[2]);
const transports = { polling: ["polling"], websocket: ["websocket"], upgrade: ["polling", "websocket"] };

function connect(url, transport) {
  const socket = io(url, { transports: transports[transport], upgrade: transport === "upgrade", forceNew: true, reconnection: false });
  const got = [];
  socket.on("message", (data) => got.push(data));
  const ready = new Promise((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("connect_error", (e) => reject(new Error(`connect_error on ${url}: ${e.message}`)));
  });
  return { socket, got, ready };
}

async function join(c, room) {
  await c.ready;
  const err = await c.socket.timeout(20_000).emitWithAck("subscribe", room);
  if (err !== null) throw new Error(`subscribe ${room}: ${err}`);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function run() {
  at("connecting and subscribing");
  const clients = plan.clients.map((p) => ({ ...p, ...connect(p.url, p.transport) }));
  await Promise.all(clients.map((c) => join(c, c.room)));
  say("subscribed", { clients: clients.length });

  const { expect } = await hear("published");
  at("receiving");
  for (const [i, c] of clients.entries()) {
    const want = expect[c.room] || [];
    while (c.got.length < want.length) {
      at(`client ${i} (${c.transport} on ${c.url}) has ${c.got.length} of ${want.length} in ${c.room}`);
      await sleep(10);
    }
  }
  await sleep(200); // a duplicate would show now
  let received = 0;
  for (const [i, c] of clients.entries()) {
    const want = expect[c.room] || [];
    if (JSON.stringify(c.got) !== JSON.stringify(want)) {
      throw new Error(`client ${i} (${c.transport} on ${c.url}, ${c.room}): got ${JSON.stringify(c.got)}, want ${JSON.stringify(want)}`);
    }
    received += c.got.length;
  }

  at("publishing with the publish event");
  const pub = connect(plan.publisher, "websocket");
  const listener = connect(plan.listener, "polling");
  await join(pub, "sio-pub");
  await join(listener, "sio-pub");
  const ack = await pub.socket.timeout(20_000).emitWithAck("publish", "sio-pub", "from socket.io");
  if (ack !== null) throw new Error(`publish ack ${JSON.stringify(ack)}, want null`);
  while (listener.got.length < 1) await sleep(10);
  if (listener.got[0] !== "from socket.io") throw new Error(`listener got ${JSON.stringify(listener.got)}`);

  for (const c of [...clients, pub, listener]) c.socket.close();
  return { ok: true, clients: clients.length, received };
}

main(run);
