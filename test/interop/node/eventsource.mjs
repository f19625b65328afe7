// The npm `eventsource` client (pinned in package.json; it reads the
// stream through Node's global fetch) against c1m's GET /sse, talking with
// the Go test through harness.mjs:
//
//  1. subscribe to TOPIC and say "subscribed"; the test publishes 1..N;
//  2. once all N arrived in order, say "received"; the test ends the
//     stream from the server's side;
//  3. the client reconnects by itself after the stream's retry: delay,
//     sending Last-Event-ID. The reconnecting request is held here (a
//     fetch wrapper says "reconnecting" and waits for the test's "go")
//     while the test publishes N+1..N+M, so those are certainly made
//     while the client has no stream;
//  4. all M must then arrive, in order, with no duplicate and no reset.
//
//	node eventsource.mjs http://127.0.0.1:PORT TOPIC N M
import { createRequire } from "node:module";
import { EventSource } from "eventsource";
import { at, hear, main, say } from "./harness.mjs";
import { Sequence } from "./publications.mjs";

const version = createRequire(import.meta.url)("eventsource/package.json").version;
const [base, topic, nArg, mArg] = process.argv.slice(2);
const n = Number(nArg);
const m = Number(mArg);

main(async () => {
  if (!base || !topic || !(n > 0) || !(m > 0)) throw new Error("usage: node eventsource.mjs BASE TOPIC N M");
  const seq = new Sequence(topic, 1, n + m);
  const requests = []; // what each connection attempt sent
  const sids = []; // the session id of each stream (its open object)
  const starts = []; // the subscribed objects, one per stream
  let es;
  const result = new Promise((resolve, reject) => {
    const fail = (e) => {
      es.close();
      reject(e instanceof Error ? e : new Error(String(e)));
    };
    const fetchHeld = async (url, init) => {
      const lastEventId = init.headers["Last-Event-ID"] ?? "";
      requests.push({ url: String(url), lastEventId });
      if (requests.length > 1) {
        say("reconnecting", { lastEventId });
        await hear("go");
        at("reconnected");
      }
      return fetch(url, init);
    };
    es = new EventSource(`${base}/sse?topic=${encodeURIComponent(topic)}`, { fetch: fetchHeld });
    // The server's open object is the "session" event (EventSource's
    // own "open" event has no data).
    es.addEventListener("session", (e) => sids.push(JSON.parse(e.data).sid));
    es.addEventListener("subscribed", (e) => {
      starts.push(JSON.parse(e.data));
      if (starts.length === 1) say("subscribed", { start: starts[0], id: e.lastEventId });
    });
    es.addEventListener("reset", (e) => fail(`reset after ${seq.got} publications: ${e.data}`));
    es.onmessage = (e) => {
      const obj = JSON.parse(e.data);
      if (obj.op !== undefined) return fail(`unexpected object ${e.data}`);
      if (!seq.take(obj)) return fail(seq.error);
      if (e.lastEventId === "") return fail(`publication ${obj.offset} came without an event id`);
      if (seq.got === n) say("received", { n, lastEventId: e.lastEventId });
      if (seq.complete) {
        es.close();
        resolve();
      }
    };
    es.onerror = (e) => {
      // Expected once, when the test ends the first stream; the client
      // then waits retry: ms and reconnects.
      if (seq.got !== n || requests.length > 1) fail(`error event after ${seq.got}: ${e.message ?? e.code ?? "?"}`);
    };
  });
  await result;
  return { ok: true, library: `eventsource ${version}`, got: seq.got, epoch: seq.epoch, requests, sids, starts };
});
