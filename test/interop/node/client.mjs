// Node `ws` against c1m's echo server: sizes around the framing boundaries,
// text and binary, with and without permessage-deflate, ping/pong, and the
// close handshake. Prints a JSON summary; exits non-zero on any mismatch.
import WebSocket from "ws";

const url = process.argv[2];
if (!url) {
  console.error("usage: node client.mjs ws://host:port/");
  process.exit(2);
}

function open(perMessageDeflate) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate, maxPayload: 32 << 20 });
    ws.once("open", () => resolve(ws));
    ws.once("error", reject);
  });
}

function roundTrip(ws, data, binary) {
  return new Promise((resolve, reject) => {
    const onError = (e) => reject(e);
    ws.once("error", onError);
    ws.once("message", (msg, isBinary) => {
      ws.off("error", onError);
      resolve({ msg, isBinary });
    });
    ws.send(data, { binary });
  });
}

async function run(perMessageDeflate) {
  const ws = await open(perMessageDeflate);
  const negotiated = ws.extensions;
  let checks = 0;
  for (const size of [0, 125, 126, 65535, 65536, 1 << 20]) {
    const text = "é".repeat(Math.floor(size / 2)) + "x".repeat(size % 2);
    let r = await roundTrip(ws, text, false);
    if (r.isBinary || r.msg.toString("utf8") !== text) throw new Error(`text ${size} mismatch`);
    const bin = Buffer.alloc(size, 0xab);
    r = await roundTrip(ws, bin, true);
    if (!r.isBinary || !Buffer.from(r.msg).equals(bin)) throw new Error(`binary ${size} mismatch`);
    checks += 2;
  }
  // Fragmented send: ws sends one message as several frames with fin=false.
  await new Promise((resolve, reject) => {
    ws.once("message", (msg) => (msg.toString() === "frag-ment-ed" ? resolve() : reject(new Error("fragmented mismatch: " + msg))));
    ws.send("frag-", { fin: false });
    ws.send("ment-", { fin: false });
    ws.send("ed", { fin: true });
  });
  checks++;
  // Ping: the server answers with a pong carrying the same payload.
  await new Promise((resolve, reject) => {
    ws.once("pong", (data) => (data.toString() === "are you there" ? resolve() : reject(new Error("pong payload " + data))));
    ws.ping("are you there");
  });
  checks++;
  // Close handshake: the server echoes our code.
  const closed = await new Promise((resolve) => {
    ws.once("close", (code, reason) => resolve({ code, reason: reason.toString() }));
    ws.close(4001, "bye");
  });
  if (closed.code !== 4001) throw new Error("close code " + closed.code);
  checks++;
  return { perMessageDeflate, negotiated, checks };
}

try {
  const results = [await run(false), await run(true)];
  if (!results[1].negotiated.includes("permessage-deflate")) throw new Error("deflate not negotiated");
  console.log(JSON.stringify({ ok: true, results }));
} catch (e) {
  console.log(JSON.stringify({ ok: false, error: String(e) }));
  process.exit(1);
}
