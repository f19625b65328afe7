// The npm engine.io-client against c1m's Engine.IO echo
// (examples/socketio -engineio-echo), on one transport mode:
//
//   node eio-echo.mjs URL polling|websocket|upgrade
//
// polling and websocket use that transport alone; upgrade starts on
// polling and upgrades to WebSocket, with messages on both sides of the
// upgrade. Every text and binary message must come back unchanged and in
// order, over the transport the mode expects. The report says what was
// echoed and on which transport.
import { Socket } from "engine.io-client";
import { at, main } from "./harness.mjs";

const [url, mode] = process.argv.slice(2);

const transports = { polling: ["polling"], websocket: ["websocket"], upgrade: ["polling", "websocket"] }[mode];
if (!transports) throw new Error(`unknown mode ${mode}`);

// The messages: text (with non-ASCII, and the record separator's
// neighbours), binary (every byte value), and an empty text one.
const messages = [
  "hello",
  "héllo wörld ✓",
  "",
  new Uint8Array([0, 1, 2, 254, 255]),
  new Uint8Array(Array.from({ length: 256 }, (_, i) => i)),
];
for (let i = 0; i < 40; i++) messages.push(`m${i}`);

// same compares what was sent with what came back.
function same(sent, got) {
  // engine.io-parser decodes the packet "4" as a message without data: an
  // empty string comes back undefined, from the reference server too.
  if (sent === "") return got === undefined || got === "";
  if (typeof sent === "string") return sent === got;
  if (typeof got === "string") return false;
  const g = new Uint8Array(got instanceof ArrayBuffer ? got : got.buffer.slice(got.byteOffset, got.byteOffset + got.byteLength));
  return g.length === sent.length && g.every((b, i) => b === sent[i]);
}

main(async () => {
  const socket = new Socket(url, { path: "/engine.io/", transports, upgrade: mode === "upgrade" });
  const received = [];
  let waiter = null;
  socket.on("message", (data) => {
    received.push(data);
    if (waiter) waiter();
  });
  const closed = new Promise((resolve) => socket.on("close", (reason) => resolve(reason)));
  const errors = [];
  socket.on("error", (e) => errors.push(String(e)));

  at("opening");
  await new Promise((resolve, reject) => {
    socket.on("open", resolve);
    socket.on("close", (r) => reject(new Error(`closed before open: ${r}`)));
  });
  const opened = socket.transport.name;

  // echoes sends msgs and waits until as many more messages came back.
  const echoes = async (msgs) => {
    const want = received.length + msgs.length;
    for (const m of msgs) socket.send(m);
    while (received.length < want) {
      await new Promise((resolve) => (waiter = resolve));
    }
  };

  const half = Math.floor(messages.length / 2);
  at("echoing the first half");
  await echoes(messages.slice(0, half));
  if (mode === "upgrade" && socket.transport.name !== "websocket") {
    at("upgrading");
    await new Promise((resolve) => socket.once("upgrade", resolve));
  }
  at("echoing the second half");
  await echoes(messages.slice(half));
  const transport = socket.transport.name;

  const bad = messages.findIndex((m, i) => !same(m, received[i]));
  at("closing");
  socket.close();
  const reason = await closed;
  const want = mode === "polling" ? "polling" : "websocket";
  const ok = bad < 0 && received.length === messages.length && transport === want && errors.length === 0;
  return { ok, mode, opened, transport, echoed: received.length, firstBad: bad, reason, errors };
});
