// The npm socket.io-client moving between two nodes of a c1m cluster with
// connection state recovery (cmd/c1m/cluster_sio_test.go), in a
// conversation with the Go test through harness.mjs:
//
//   node sio-move.mjs URL_A URL_B MODE TRANSPORT
//
// The client connects to node a (TRANSPORT: websocket or polling), joins rooms r1 and r2 (the
// subscribe event) and says "ready" with its pid. The test publishes and
// says "published"; once the client has the publications it says
// "received". MODE kill: the test kills node a (SIGKILL); MODE term: it
// stops node a (SIGTERM: a drain); MODE drop: the client drops its
// connection itself (node a lives on). Either way the
// client says "dropped", the test publishes more through the cluster and
// says "published"; the client then connects to node b, must come back
// recovered (socket.recovered, same id) and says "recovered" with its pid
// and last offset. The test publishes again, says "published" with the
// whole list the client must have, and the client checks it has exactly
// that, in order, none twice.
import { io } from "socket.io-client";
import { at, hear, main, say } from "./harness.mjs";

const [urlA, urlB, mode, transport] = process.argv.slice(2);
if (transport !== "websocket" && transport !== "polling") throw new Error(`unknown transport ${transport}`);
const once = (socket, ev) => new Promise((resolve) => socket.once(ev, (...args) => resolve(args)));

async function run() {
  at("connecting to node a");
  // No reconnection of its own: the client comes back when the test has
  // published what it must recover, and to node b.
  const socket = io(urlA, { transports: [transport], forceNew: true, reconnection: false });
  const got = [];
  socket.on("message", (data) => got.push(data));
  await new Promise((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("connect_error", (e) => reject(new Error(`connect_error: ${e.message}`)));
  });
  const id = socket.id;
  for (const room of ["r1", "r2"]) {
    const err = await socket.timeout(20_000).emitWithAck("subscribe", room);
    if (err !== null) throw new Error(`subscribe ${room}: ${err}`);
  }
  if (!socket._pid) throw new Error("no pid: recovery is off");
  const dropped = once(socket, "disconnect");
  say("ready", { pid: socket._pid, id });

  const until = async (n) => {
    while (got.length < n) {
      at(`waiting for ${n} messages, have ${JSON.stringify(got)}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  await hear("published");
  await until(2);
  say("received", { offset: socket._lastOffset });

  if (mode === "drop") socket.io.engine.close(); // as a network failure
  at(`waiting for the connection to node a to end (${mode})`);
  const [reason] = await dropped;
  say("dropped", { reason });

  await hear("published");
  at("reconnecting to node b");
  socket.io.uri = urlB;
  const back = new Promise((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("connect_error", (e) => reject(new Error(`connect_error on node b: ${e.message}`)));
  });
  socket.connect();
  await back;
  if (!socket.recovered) throw new Error("not recovered on node b");
  if (socket.id !== id) throw new Error(`id ${socket.id} on node b, was ${id}`);
  say("recovered", { pid: socket._pid, offset: socket._lastOffset, id: socket.id });

  const { expect } = await hear("published");
  await until(expect.length);
  await new Promise((r) => setTimeout(r, 200)); // a duplicate would show now
  if (JSON.stringify(got) !== JSON.stringify(expect)) {
    throw new Error(`got ${JSON.stringify(got)}, want ${JSON.stringify(expect)}`);
  }
  socket.close();
  return { ok: true, mode, transport, reason, received: got.length, recovered: true };
}

main(run);
