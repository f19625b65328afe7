// Node `ws` against c1m's echo server. The Go test (clients_test.go) owns
// the plan and passes it as JSON: message sizes around the framing
// boundaries (7-bit, 16-bit and 64-bit lengths), how many messages to
// pipeline, the close code. This script runs the plan once without and once
// with permessage-deflate, checks every echo byte for byte, and prints a
// JSON report naming each case it verified; the Go test compares that list
// with the plan, so a case that silently did not run fails too. Exits
// non-zero on any mismatch.
//
//	node client.mjs ws://127.0.0.1:PORT/ '{"sizes":[0,125],"pipelined":16,"closeCode":4001}'
import { randomBytes } from "node:crypto";
import { createRequire } from "node:module";
import WebSocket from "ws";

const wsVersion = createRequire(import.meta.url)("ws/package.json").version;
const [url, planJSON] = process.argv.slice(2);
const plan = JSON.parse(planJSON ?? "null");
// Bounds the whole run below the Go test's own deadline, so a stuck echo
// is reported with the case it was stuck in.
const deadlineMs = 60_000;
let current = "connect";

// Varied payloads: a constant fill would hide reordered or duplicated
// chunks. Text mixes 1- to 4-byte UTF-8 sequences; size is in bytes.
const alphabet = ["a", "b", "z", " ", "é", "ж", "€", "✓", "😀"];
function textOf(size) {
  let s = "";
  for (let left = size; left > 0; ) {
    let c = alphabet[Math.floor(Math.random() * alphabet.length)];
    if (Buffer.byteLength(c) > left) c = "x";
    s += c;
    left -= Buffer.byteLength(c);
  }
  return s;
}

// Inbox turns ws events into awaitable values, in arrival order.
class Inbox {
  constructor(ws) {
    this.queue = [];
    this.waiters = [];
    ws.on("message", (data, isBinary) => this.push({ kind: "message", data: Buffer.from(data), isBinary }));
    ws.on("pong", (data) => this.push({ kind: "pong", data: Buffer.from(data) }));
    ws.on("close", (code) => this.push({ kind: "close", code }));
    ws.on("error", (err) => this.push({ kind: "error", err }));
  }
  push(ev) {
    const w = this.waiters.shift();
    if (w) w(ev);
    else this.queue.push(ev);
  }
  next() {
    if (this.queue.length) return Promise.resolve(this.queue.shift());
    return new Promise((resolve) => this.waiters.push(resolve));
  }
  async expect(kind) {
    const ev = await this.next();
    if (ev.kind === "error") throw ev.err;
    if (ev.kind !== kind) throw new Error(`${current}: got ${ev.kind} (code ${ev.code}), want ${kind}`);
    return ev;
  }
}

function check(ok, what) {
  if (!ok) throw new Error(`${current}: ${what}`);
}

async function expectEcho(inbox, sent, binary) {
  const ev = await inbox.expect("message");
  check(ev.isBinary === binary, `echo opcode: binary=${ev.isBinary}`);
  const want = binary ? sent : Buffer.from(sent, "utf8");
  check(ev.data.equals(want), `echo differs (${ev.data.length} bytes, sent ${want.length})`);
}

async function run(deflate, texts, bins) {
  // threshold 0: ws would otherwise leave messages under 1 KiB uncompressed.
  const ws = new WebSocket(url, { perMessageDeflate: deflate ? { threshold: 0 } : false, maxPayload: 32 << 20 });
  const inbox = new Inbox(ws);
  await new Promise((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  });
  const cases = [];
  const done = (name) => cases.push(name);

  for (const size of plan.sizes) {
    current = `text/${size}`;
    ws.send(texts.get(size));
    await expectEcho(inbox, texts.get(size), false);
    done(current);
    current = `binary/${size}`;
    ws.send(bins.get(size));
    await expectEcho(inbox, bins.get(size), true);
    done(current);
  }

  // Many messages in flight at once: the echoes come back in order.
  current = `pipelined/${plan.pipelined}`;
  const burst = [];
  for (let i = 0; i < plan.pipelined; i++) burst.push(i % 2 ? randomBytes(i * 100) : textOf(i * 100));
  for (const m of burst) ws.send(m);
  for (const m of burst) await expectEcho(inbox, m, typeof m !== "string");
  done(current);

  // One message as several frames (fin=false, then continuations).
  current = "fragmented/text";
  const parts = [textOf(10), textOf(200), textOf(70_000)];
  parts.forEach((p, i) => ws.send(p, { fin: i === parts.length - 1 }));
  await expectEcho(inbox, parts.join(""), false);
  done(current);
  current = "fragmented/binary";
  const chunks = [randomBytes(70_000), randomBytes(1), randomBytes(70_000)];
  chunks.forEach((c, i) => ws.send(c, { fin: i === chunks.length - 1 }));
  await expectEcho(inbox, Buffer.concat(chunks), true);
  done(current);

  // A ping between two fragments is answered at once (RFC 6455 5.4), so
  // its pong arrives before the echo of the message it interrupted.
  current = "fragmented/ping-inside";
  ws.send("frag-", { fin: false });
  ws.ping("mid");
  ws.send("ment", { fin: true });
  check((await inbox.expect("pong")).data.toString() === "mid", "pong payload");
  await expectEcho(inbox, "frag-ment", false);
  done(current);

  current = "ping";
  ws.ping("are you there");
  check((await inbox.expect("pong")).data.toString() === "are you there", "pong payload");
  done(current);

  current = `close/${plan.closeCode}`;
  ws.close(plan.closeCode, "bye");
  const closeCode = (await inbox.expect("close")).code;
  check(closeCode === plan.closeCode, `close code ${closeCode}`);
  done(current);
  return { deflate, extensions: ws.extensions, cases, closeCode };
}

function report(r, code) {
  process.stdout.write(JSON.stringify({ client: `node ${process.version} ws ${wsVersion}`, ...r }) + "\n", () =>
    process.exit(code),
  );
}

setTimeout(() => report({ ok: false, error: `timed out after ${deadlineMs} ms in ${current}` }, 1), deadlineMs).unref();
try {
  if (!url || !plan) throw new Error("usage: node client.mjs WS_URL PLAN_JSON");
  const texts = new Map(plan.sizes.map((n) => [n, textOf(n)]));
  const bins = new Map(plan.sizes.map((n) => [n, randomBytes(n)]));
  const runs = [await run(false, texts, bins), await run(true, texts, bins)];
  report({ ok: true, runs }, 0);
} catch (e) {
  report({ ok: false, error: String(e && e.stack ? e.stack : e) }, 1);
}
