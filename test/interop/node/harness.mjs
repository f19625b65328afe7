// The Node side of a conversation with a Go test (http_clients_test.go),
// one JSON object per line each way: the script says where it stands on
// stdout ({"ev":"subscribed",...}), the Go test acts on it (publishes,
// drops sessions) and answers on stdin when the script must wait for it
// ({"ev":"published"}). The last line is the report, {"ev":"done","ok":...}.
import { createInterface } from "node:readline";

// deadlineMs bounds a script below the Go test's own deadline, so that a
// stuck run reports the stage it was stuck in.
const deadlineMs = 60_000;
let stage = "start";

// say reports an event to the Go test.
export function say(ev, fields = {}) {
  stage = ev;
  process.stdout.write(JSON.stringify({ ev, ...fields }) + "\n");
}

// at names what the script is doing, for a timeout's report.
export function at(what) {
  stage = what;
}

const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();

// hear waits for the Go test's next line and checks that it is event ev.
export async function hear(ev) {
  at(`waiting for the test's ${ev}`);
  const { value, done } = await lines.next();
  if (done) throw new Error(`stdin ended while waiting for ${ev}`);
  const got = JSON.parse(value);
  if (got.ev !== ev) throw new Error(`the test said ${value}, want ${ev}`);
  return got;
}

// command waits for the Go test's next line, whatever its event: for a
// script that the test steers with commands.
export async function command() {
  at("waiting for the test's next command");
  const { value, done } = await lines.next();
  if (done) throw new Error("stdin ended while waiting for a command");
  return JSON.parse(value);
}

// finish prints the report and exits: 0 when ok.
export function finish(report) {
  const ok = report.ok === true;
  process.stdout.write(JSON.stringify({ ev: "done", client: `node ${process.version}`, ...report, ok }) + "\n", () =>
    process.exit(ok ? 0 : 1),
  );
}

// main runs fn under the deadline and reports its result or its failure.
export function main(fn) {
  setTimeout(() => finish({ ok: false, error: `timed out after ${deadlineMs} ms at ${stage}` }), deadlineMs).unref();
  fn().then(finish, (e) => finish({ ok: false, error: `${stage}: ${e && e.stack ? e.stack : e}` }));
}
