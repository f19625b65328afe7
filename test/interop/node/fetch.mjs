// Node's built-in fetch (undici) against c1m's GET /stream and GET /poll,
// talking with the Go test through harness.mjs.
//
// stream: read the NDJSON response with a stream reader, say "subscribed"
// at the subscribed object; the test publishes 1..N, which must all
// arrive in order.
//
// poll: a first poll with wait=0 subscribes and returns a cursor; then N
// publications come in batches of BATCH, alternately published while the
// client is between polls (it says "between" and waits for the test's
// "published" before it polls again) and while a poll is on its way or
// held (it says "polling" once its request is sent). Every poll passes the
// last cursor; the publications must all arrive, in order, across the
// polls, with no reset.
//
//	node fetch.mjs stream http://127.0.0.1:PORT TOPIC FIRST N
//	node fetch.mjs poll http://127.0.0.1:PORT TOPIC FIRST N BATCH
//
// FIRST is the first offset the client must get: the test may have
// published before it subscribes, and those must not reach it.
import { at, hear, main, say } from "./harness.mjs";
import { Sequence } from "./publications.mjs";

const [mode, base, topic, firstArg, nArg, batchArg] = process.argv.slice(2);
const first = Number(firstArg);
const n = Number(nArg);

// getOK fetches url and checks the status and the content type.
async function getOK(url, wantType, init) {
  const res = await fetch(url, init);
  const type = res.headers.get("content-type") ?? "";
  if (res.status !== 200 || !type.startsWith(wantType)) {
    throw new Error(`GET ${url}: ${res.status} ${type}: ${(await res.text()).slice(0, 200)}`);
  }
  return res;
}

async function stream() {
  const seq = new Sequence(topic, first, first + n - 1);
  const abort = new AbortController();
  const res = await getOK(`${base}/stream?topic=${encodeURIComponent(topic)}`, "application/x-ndjson", { signal: abort.signal });
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  let reads = 0;
  let sid = "";
  at("reading the stream");
  while (!seq.complete) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`the stream ended after ${seq.got} publications`);
    reads++;
    buf += value;
    let nl;
    while ((nl = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      const obj = JSON.parse(line);
      switch (obj.op) {
        case "open":
          sid = obj.sid;
          break;
        case "subscribed":
          say("subscribed", { start: obj });
          break;
        case "ping":
          break;
        case undefined:
          if (!seq.take(obj)) throw new Error(seq.error);
          break;
        default:
          throw new Error(`unexpected object ${line}`);
      }
    }
  }
  abort.abort();
  return { ok: true, got: seq.got, epoch: seq.epoch, sid, reads };
}

async function poll() {
  const batch = Number(batchArg);
  const seq = new Sequence(topic, first, first + n - 1);
  let polls = 0;
  let cursor = "";
  const pollOnce = async (query) => {
    polls++;
    const res = await getOK(`${base}/poll?${query}`, "application/json");
    const reply = await res.json();
    if (typeof reply.cursor !== "string" || !Array.isArray(reply.messages)) {
      throw new Error(`poll ${polls}: reply ${JSON.stringify(reply).slice(0, 200)}`);
    }
    for (const obj of reply.messages) {
      if (obj.op !== undefined) throw new Error(`poll ${polls}: unexpected object ${JSON.stringify(obj)}`);
      if (!seq.take(obj)) throw new Error(`poll ${polls}: ${seq.error}`);
    }
    cursor = reply.cursor;
    return reply.messages.length;
  };
  at("first poll");
  const got = await pollOnce(`topic=${encodeURIComponent(topic)}&wait=0`);
  if (got !== 0) throw new Error(`the first poll returned ${got} publications`);
  say("subscribed", { cursor });
  let between = 0;
  let held = 0;
  for (let b = 0; !seq.complete; b++) {
    const want = Math.min(seq.next + batch - 1, seq.last);
    const query = `cursor=${encodeURIComponent(cursor)}`;
    if (b % 2 === 0) {
      say("between", { batch: b });
      await hear("published");
      between++;
    } else {
      // The poll is sent, then the test publishes: the batch reaches it
      // while it is held, or, if the request is slower than the
      // publications, from history. Either way nothing may be lost.
      const reply = pollOnce(query);
      say("polling", { batch: b });
      await reply;
      held++;
    }
    at(`polling for batch ${b}`);
    while (!seq.complete && seq.next <= want) await pollOnce(`cursor=${encodeURIComponent(cursor)}`);
  }
  return { ok: true, got: seq.got, epoch: seq.epoch, polls, between, held };
}

main(async () => {
  if (!base || !topic || !(first > 0) || !(n > 0)) throw new Error("usage: node fetch.mjs stream|poll BASE TOPIC FIRST N [BATCH]");
  switch (mode) {
    case "stream":
      return stream();
    case "poll":
      if (!(Number(batchArg) > 0)) throw new Error("poll needs BATCH");
      return poll();
  }
  throw new Error(`unknown mode ${mode}`);
});
