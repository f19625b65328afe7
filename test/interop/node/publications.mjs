// The publications of c1m's HTTP transport tests and a checker for them,
// shared by the Node scripts and by the browser page
// (browser/transports.html loads this file from the test server): one
// definition of what publication i is, kept in step with publication() in
// push_test.go, which publishes it. Plain JavaScript, no Node API.

// publication returns what an envelope carries for publication i (from 1):
// the field, "data" for UTF-8 text or "data_b64" for other bytes, and its
// value. Text mixes 2- to 4-byte UTF-8 with JSON and HTML specials (a
// forever iframe and JSONP carry it inside a <script>); every tenth
// publication is binary.
export function publication(i) {
  if (i % 10 === 0) {
    const bytes = [i & 0xff, 0xff, 0, 0xfe, (i >> 8) & 0xff];
    return { field: "data_b64", value: btoa(String.fromCharCode(...bytes)) };
  }
  return { field: "data", value: `#${i} héllo ✓ 😀 "q" \\ </script> <!-- & \u2028\n` };
}

// Sequence checks the envelopes of one topic as they arrive: offsets
// first..last, each once and in order, all in one epoch, each with its
// publication's data. The first wrong envelope stops it, with a message
// saying what came instead of what.
export class Sequence {
  constructor(topic, first, last) {
    this.topic = topic;
    this.next = first;
    this.last = last;
    this.got = 0;
    this.epoch = "";
    this.error = "";
  }

  get complete() {
    return !this.error && this.next > this.last;
  }

  fail(what) {
    this.error ||= `after ${this.got} in order: ${what}`;
    return false;
  }

  // take checks one envelope (a parsed JSON object); false means it was
  // not the one expected next (see error).
  take(env) {
    if (this.error) return false;
    if (this.next > this.last) return this.fail(`an extra envelope, offset ${env.offset}`);
    if (env.topic !== this.topic) return this.fail(`topic ${JSON.stringify(env.topic)}, want ${JSON.stringify(this.topic)}`);
    if (env.offset !== this.next) {
      const kind = env.offset < this.next ? "a duplicate or older one" : "a gap";
      return this.fail(`offset ${env.offset}, want ${this.next}: ${kind}`);
    }
    if (typeof env.epoch !== "string" || env.epoch === "") return this.fail(`offset ${env.offset} has no epoch`);
    if (this.epoch && env.epoch !== this.epoch) return this.fail(`epoch ${env.epoch} at offset ${env.offset}, was ${this.epoch}`);
    const want = publication(this.next);
    const other = want.field === "data" ? "data_b64" : "data";
    if (env[want.field] !== want.value || other in env) {
      return this.fail(`offset ${env.offset} carries ${JSON.stringify(env).slice(0, 120)}, want ${want.field} ${JSON.stringify(want.value)}`);
    }
    this.epoch = env.epoch;
    this.next++;
    this.got++;
    return true;
  }
}
