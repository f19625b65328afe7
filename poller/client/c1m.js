/*
 * c1m.js: the browser client of c1m (PROTOCOL.md), served by c1m at
 * /c1m.js. No dependencies, no build step: a classic <script> that sets
 * window.c1m (as a module, import "/c1m.js" and use globalThis.c1m).
 *
 *   const client = c1m.connect("https://push.example.com", {});
 *   client.subscribe("news", (data, meta) => {}); // meta: {topic, offset, epoch}
 *   client.publish("chat", "hi").then((reply) => {});
 *   client.on("state", (state, transport) => {}); // connecting, open, reconnecting, closed
 *   client.on("reset", ({topic, epoch, offset, previous}) => {});
 *   client.refresh(newToken).then((reply) => {}); // with options.token
 *
 * It tries WebSocket, Server-Sent Events, NDJSON streaming, long-polling
 * and (with options.jsonp) JSONP polling, in that order, stays on the first
 * that opens and delivers, and remembers it for the tab. It reconnects with
 * exponential backoff and full jitter and resumes every topic from the last
 * position it saw, so nothing is lost while the server keeps history; when
 * the server cannot resume a topic, it says so and the client emits "reset".
 */
(function (global) {
  "use strict";

  const PROTOCOL = "c1m.v1.json"; // the subprotocol that gives envelopes
  const ORDER = ["websocket", "sse", "stream", "poll"]; // "jsonp" last, when asked for

  const DEFAULTS = {
    transports: null, // the transports to try, in order; null: ORDER (and jsonp with jsonp: true)
    jsonp: false, // also try JSONP polling last (the server needs -jsonp)
    path: "/ws", // the server's WebSocket path (its -path flag)
    openTimeout: 8000, // ms a transport has to open and deliver its first object
    minDelay: 500, // backoff: the first retry waits up to this many ms...
    maxDelay: 15000, // ...and each further one up to twice as long, at most this
    stableAfter: 10000, // ms a connection must last for the backoff to start over
    pollWait: null, // seconds the server holds a long-poll; null: the server's default (25 s)
    publishTimeout: 10000, // ms a publish waits for its reply
    remember: true, // remember the transport that worked, per tab and server
    withCredentials: false, // send cookies to another origin
    token: null, // a JWT connection token (PROTOCOL.md, Authentication), sent on every request; refresh() replaces it
  };

  // How long past the server's hold a long-poll may go unanswered before it
  // counts as lost (a proxy that swallowed it): ms.
  const POLL_SLACK = 30000;
  const DEFAULT_POLL_WAIT = 25; // s, the server's -poll-timeout default

  // validTopic mirrors the server's rule (PROTOCOL.md): 1 to 256 bytes of
  // printable ASCII without spaces, not starting with "$" (reserved).
  const validTopic = (t) => typeof t === "string" && /^[!-~]{1,256}$/.test(t) && t[0] !== "$";

  // payload returns an object's data: a string, or a Uint8Array for data_b64.
  const payload = (obj) =>
    typeof obj.data_b64 === "string" ? Uint8Array.from(atob(obj.data_b64), (c) => c.charCodeAt(0)) : obj.data;

  // later rethrows err outside the caller's stack: an exception in user
  // code is reported (on the console) without breaking the client.
  const later = (err) => setTimeout(() => { throw err; });

  // baseURL is the server's HTTP base: an http(s) or ws(s) URL, with a path
  // prefix when the server sits behind a proxy under one.
  function baseURL(url) {
    const here = global.location && global.location.href;
    const u = new URL(url || (global.location && global.location.origin), here);
    const scheme = { "ws:": "http:", "wss:": "https:" }[u.protocol] || u.protocol;
    return scheme + "//" + u.host + u.pathname.replace(/\/+$/, "");
  }

  // NotDelivered marks a command the server never received (its session was
  // gone): it is sent again on the next connection.
  class NotDelivered extends Error {}

  // Client is one logical connection to a c1m server, over whichever
  // transport works.
  class Client {
    constructor(url, options) {
      this.url = baseURL(url);
      this.options = Object.assign({}, DEFAULTS, options);
      this.state = "connecting";
      this.transport = null;
      this._listeners = new Map(); // event → Set of functions
      this._topics = new Map(); // topic → {fns: Set, epoch, offset}; epoch null: no position yet
      this._dropped = new Set(); // unsubscribed topics that a cursor we hold may still name
      this._cursor = null; // the server's last cursor (SSE id, poll reply), while it is the freshest position
      this._pending = new Map(); // command id → {cmd, resolve, reject, timer, sent}
      this._nextID = 1;
      this._attempt = 0; // consecutive failures, for the backoff
      this._tried = 0; // transports that failed in this round
      this._conn = null;
      this._timer = null;
      this._worked = new Set(); // transports that opened for this client
      this._second = null; // a transport that worked, failing: tried once more
      const o = this.options;
      const order = o.transports || (o.jsonp ? ORDER.concat("jsonp") : ORDER);
      this._order = order.filter((name) => TRANSPORTS[name] && TRANSPORTS[name].supported());
      this._index = Math.max(0, this._order.indexOf(this._saved()));
      // Connect once the caller's first subscriptions are in, so that they
      // go in the first request.
      this._timer = setTimeout(() => this._connect(), 0);
    }

    // subscribe calls fn(data, meta) for each publication to topic, data
    // being a string (or a Uint8Array for binary payloads) and meta
    // {topic, offset, epoch}.
    subscribe(topic, fn) {
      if (!validTopic(topic)) throw new TypeError("c1m: bad topic name " + JSON.stringify(topic));
      let st = this._topics.get(topic);
      if (!st) {
        st = { fns: new Set(), epoch: null, offset: 0 };
        this._topics.set(topic, st);
        this._dropped.delete(topic);
        if (this._open()) this._conn.subscribe(topic);
      }
      if (fn) st.fns.add(fn);
      return this;
    }

    // unsubscribe stops topic: its functions (or only fn) are forgotten,
    // and with the last of them, the topic's position.
    unsubscribe(topic, fn) {
      const st = this._topics.get(topic);
      if (!st) return this;
      if (fn) st.fns.delete(fn);
      if (fn && st.fns.size > 0) return this;
      this._topics.delete(topic);
      this._dropped.add(topic);
      if (this._open()) this._conn.unsubscribe(topic);
      return this;
    }

    // publish sends data (a string, or any JSON value) to topic, which the
    // server allows only with -demo-publish. The promise resolves with the
    // server's reply ({op: "ok", id}), or null when the transport gives none
    // back; it rejects with the server's error, or after publishTimeout.
    // A publish made while disconnected waits for the next connection.
    publish(topic, data) {
      if (this.state === "closed") return Promise.reject(new Error("c1m: client closed"));
      const id = this._nextID++;
      return new Promise((resolve, reject) => {
        const p = { cmd: { op: "publish", topic, data, id }, resolve, reject, sent: false };
        p.timer = setTimeout(() => this._settle(id, new Error("c1m: no reply to publish")), this.options.publishTimeout);
        this._pending.set(id, p);
        if (this._open()) this._send(p);
      });
    }

    // refresh hands the server a new connection token before the old one
    // expires (PROTOCOL.md): the connection in use gets a refresh command
    // (on a stream, through /send), and every later request carries the
    // new token. The promise resolves with the server's reply ({op: "ok"}),
    // or null when there is nothing to send (a poll carries the token on
    // its next request; a client that is not connected, on its next
    // connection); it rejects with the server's error ("token expired",
    // "token of another user"...), or after publishTimeout.
    refresh(token) {
      if (this.state === "closed") return Promise.reject(new Error("c1m: client closed"));
      if (typeof token !== "string" || token === "") return Promise.reject(new TypeError("c1m: refresh needs a token"));
      this.options.token = token;
      if (!this._open() || this._conn instanceof PollConn) return Promise.resolve(null);
      const id = this._nextID++;
      return new Promise((resolve, reject) => {
        const p = { cmd: { op: "refresh", token, id }, resolve, reject, sent: false };
        p.timer = setTimeout(() => this._settle(id, new Error("c1m: no reply to refresh")), this.options.publishTimeout);
        this._pending.set(id, p);
        this._send(p);
      });
    }

    // _token returns the query parameter of the connection token, after
    // sep ("?" or "&"), or "".
    _token(sep) {
      return this.options.token ? sep + "token=" + encodeURIComponent(this.options.token) : "";
    }

    // position returns where topic stands, {epoch, offset}, or null.
    position(topic) {
      const st = this._topics.get(topic);
      return st && st.epoch ? { epoch: st.epoch, offset: st.offset } : null;
    }

    // close ends the client for good: no more reconnections.
    close() {
      if (this.state === "closed") return;
      clearTimeout(this._timer);
      if (this._conn) this._conn.close();
      this._conn = null;
      this._setState("closed", this.transport);
      for (const id of [...this._pending.keys()]) this._settle(id, new Error("c1m: client closed"));
    }

    // on adds fn for event: "state" (state, transport), "reset" ({topic,
    // epoch, offset, previous}), "message" (data) for messages to this
    // session alone and broadcasts, "error" (reply) for errors the server
    // reports outside a publish.
    on(event, fn) {
      if (!this._listeners.has(event)) this._listeners.set(event, new Set());
      this._listeners.get(event).add(fn);
      return this;
    }

    off(event, fn) {
      if (this._listeners.has(event)) this._listeners.get(event).delete(fn);
      return this;
    }

    _emit(event, ...args) {
      for (const fn of this._listeners.get(event) || []) {
        try { fn(...args); } catch (err) { later(err); }
      }
    }

    _setState(state, transport) {
      if (state === this.state && transport === this.transport) return;
      this.state = state;
      this.transport = transport;
      this._emit("state", state, transport);
    }

    _open() { return this._conn !== null && this._conn.proven; }

    // --- connecting, falling back, reconnecting ---

    _connect() {
      this._timer = null;
      if (this.state === "closed") return;
      if (this._order.length === 0) return this._setState("closed", null); // nothing this browser can use
      const name = this._order[this._index];
      this._setState(this._worked.size > 0 ? "reconnecting" : "connecting", name);
      const conn = new TRANSPORTS[name](this, name);
      this._conn = conn;
      conn.openTimer = setTimeout(() => this._closed(conn, new Error("c1m: " + name + " delivered nothing in time")), this.options.openTimeout);
      try {
        conn.start();
      } catch (err) {
        this._closed(conn, err);
      }
    }

    // _opened: conn delivered its first object; it is the transport now.
    _opened(conn) {
      if (conn !== this._conn || conn.proven) return;
      conn.proven = true;
      conn.openedAt = Date.now();
      clearTimeout(conn.openTimer);
      this._worked.add(conn.name);
      this._tried = 0;
      this._second = null;
      for (const t of conn.sentDropped) this._dropped.delete(t);
      if (!conn.cursors) {
        // Positions now come from envelopes alone: a cursor from an
        // earlier SSE or poll connection is stale.
        this._cursor = null;
        this._dropped.clear();
      }
      this._saved(conn.name);
      this._setState("open", conn.name);
      // What changed while the connection was opening, and the topics
      // that had no position to resume from.
      for (const t of this._topics.keys()) if (!conn.topics.has(t)) conn.subscribe(t);
      for (const t of [...conn.topics]) if (!this._topics.has(t)) conn.unsubscribe(t);
      for (const p of this._pending.values()) if (!p.sent) this._send(p);
    }

    // _closed: conn ended, or failed to open. A transport that worked is
    // retried after a backoff; one that did not open is abandoned for the
    // next, unless the server itself is unreachable (nothing would work:
    // the transport is not to blame), or it worked before (given a second
    // try, lest a server restart demote every client that probed it
    // just as it came back).
    _closed(conn, why) {
      if (conn !== this._conn) return;
      this._conn = null;
      clearTimeout(conn.openTimer);
      conn.close();
      if (this.state === "closed") return;
      this.lastError = why;
      if (conn.proven) {
        if (Date.now() - conn.openedAt >= this.options.stableAfter) this._attempt = 0;
        this._setState("reconnecting", conn.name);
        this._retry();
        return;
      }
      this._reachable().then((reachable) => {
        if (this.state === "closed" || this._conn || this._timer) return;
        if (!reachable) return this._retry();
        if (this._worked.has(conn.name) && this._second !== conn.name) {
          this._second = conn.name;
          return this._retry();
        }
        this._index = (this._index + 1) % this._order.length;
        if (++this._tried < this._order.length) return this._connect();
        // Every transport failed with the server up: start over, later.
        this._tried = 0;
        this._index = 0;
        this._retry();
      });
    }

    // _retry connects again after a random delay between zero and the
    // backoff bound, which doubles with each consecutive failure ("full
    // jitter": clients dropped together do not come back together).
    _retry() {
      const bound = Math.min(this.options.maxDelay, this.options.minDelay * 2 ** this._attempt);
      this._attempt = Math.min(this._attempt + 1, 30);
      this._timer = setTimeout(() => this._connect(), Math.random() * bound);
    }

    // _reachable tells whether the server answers plain HTTP within
    // openTimeout with anything but 503 (draining, full): a HEAD that the
    // server answers without opening a session.
    _reachable() {
      if (typeof fetch !== "function") return Promise.resolve(true);
      const ctrl = new AbortController();
      const timer = setTimeout(() => ctrl.abort(), this.options.openTimeout);
      return fetch(this.url + "/poll?wait=0", { method: "HEAD", cache: "no-store", credentials: this._credentials(), signal: ctrl.signal })
        .then((r) => r.status !== 503, () => false)
        .finally(() => clearTimeout(timer));
    }

    _credentials() { return this.options.withCredentials ? "include" : "same-origin"; }

    // _saved returns the transport that last worked with this server in
    // this tab, after recording name when given.
    _saved(name) {
      if (!this.options.remember) return null;
      try {
        const key = "c1m.transport " + this.url;
        if (name) global.sessionStorage.setItem(key, name);
        return global.sessionStorage.getItem(key);
      } catch (err) {
        return null; // no storage here (a worker, a private mode)
      }
    }

    // _query is what a new connection asks for: every topic resumed from
    // the server's cursor when we hold a fresh one; else the topics with a
    // position, with since= and epoch= (the server pairs them with topic=
    // by order, all or none), and the others with no position; those wait
    // for a subscribe once open when some topics have positions.
    _query(conn) {
      const q = new URLSearchParams();
      if (this.options.token) q.set("token", this.options.token);
      const all = [...this._topics];
      conn.topics = new Set();
      conn.sentDropped = [];
      if (this._cursor) {
        q.append("cursor", this._cursor);
        for (const [t] of all) q.append("topic", t), conn.topics.add(t);
        for (const t of this._dropped) q.append("unsubscribe", t), conn.sentDropped.push(t);
        return q;
      }
      const positioned = all.filter(([, st]) => st.epoch);
      for (const [t, st] of positioned.length > 0 ? positioned : all) {
        q.append("topic", t);
        if (st.epoch) q.append("since", st.offset), q.append("epoch", st.epoch);
        conn.topics.add(t);
      }
      return q;
    }

    // _setCursor keeps the cursor that conn's server just gave.
    _setCursor(conn, cursor) {
      if (conn === this._conn && cursor) this._cursor = cursor;
    }

    // --- what arrives ---

    // _object handles one JSON object from conn: a publication, or one of
    // the objects of PROTOCOL.md.
    _object(conn, obj) {
      if (conn !== this._conn || obj === null || typeof obj !== "object") return;
      if (obj.op === undefined) return typeof obj.topic === "string" && this._publication(obj);
      switch (obj.op) {
        case "open": conn.sid = obj.sid; return this._opened(conn); // a stream's first object
        case "subscribed": return this._start(obj, false);
        case "reset": return this._start(obj, true);
        case "message": return this._message(payload(obj)); // for this session alone; on HTTP, command replies too
        case "ok": case "error": return this._reply(obj); // a command reply, on WebSocket
      }
    }

    _publication(obj) {
      if (obj.topic === "") return this._emit("message", payload(obj)); // a broadcast, or to this session alone
      const st = this._topics.get(obj.topic);
      if (!st) return; // unsubscribed meanwhile
      if (st.epoch === obj.epoch && obj.offset <= st.offset) return; // seen already
      st.epoch = obj.epoch;
      st.offset = obj.offset;
      const data = payload(obj);
      const meta = { topic: obj.topic, offset: obj.offset, epoch: obj.epoch };
      for (const fn of st.fns) {
        try { fn(data, meta); } catch (err) { later(err); }
      }
    }

    // _start applies a subscribed or reset object. A subscribed object
    // gives the offset after which publications follow: for a new
    // subscription, the topic's offset now; for a resumed one, its own
    // position, whose replay from history follows. A reset moves the
    // position where it says.
    _start(obj, reset) {
      const st = this._topics.get(obj.topic);
      if (!st) return;
      const previous = st.epoch ? { epoch: st.epoch, offset: st.offset } : null;
      if (reset || st.epoch !== obj.epoch) {
        st.epoch = obj.epoch;
        st.offset = obj.offset;
      }
      if (reset) this._emit("reset", { topic: obj.topic, epoch: obj.epoch, offset: obj.offset, previous });
    }

    // _message: a message object's payload is a command reply when it is
    // one of ours; anything else goes to "message" listeners.
    _message(data) {
      if (typeof data === "string" && data.startsWith('{"op":')) {
        try {
          const obj = JSON.parse(data);
          if ((obj.op === "ok" || obj.op === "error") && (obj.id === undefined || this._pending.has(obj.id))) {
            this._reply(obj);
            return;
          }
        } catch (err) { /* not JSON: a plain message */ }
      }
      this._emit("message", data);
    }

    _reply(obj) {
      if (obj.id !== undefined && this._pending.has(obj.id)) {
        this._settle(obj.id, obj.op === "ok" ? null : Object.assign(new Error("c1m: " + obj.error), { reply: obj }), obj);
      } else if (obj.op === "error") {
        this._emit("error", obj); // a subscribe refused, a bad command
      }
    }

    _settle(id, err, reply) {
      const p = this._pending.get(id);
      if (!p) return;
      this._pending.delete(id);
      clearTimeout(p.timer);
      if (err) p.reject(err);
      else p.resolve(reply === undefined ? null : reply);
    }

    // _send hands a pending command to the connection; a reply that comes
    // with the answer (a poll's /send) settles it at once.
    _send(p) {
      const conn = this._conn;
      p.sent = true;
      conn.command(p.cmd).then((reply) => {
        if (reply !== undefined) this._settle(p.cmd.id, null, reply);
      }, (err) => {
        if (err instanceof NotDelivered) p.sent = false; // again on the next connection
        else this._settle(p.cmd.id, err);
      });
    }
  }

  // --- transports ---
  //
  // A connection is made for one attempt and never reused. The client calls
  // start(), close(), subscribe(topic) and unsubscribe(topic) once it is
  // open, and command(cmd), which returns a promise of the reply when the
  // transport has it at once (else undefined: it comes later as an object).
  // The connection calls client._opened(conn) when it has proven itself,
  // client._object(conn, obj) for each object, client._closed(conn, why)
  // when it ends. Its topics are those its request named.

  class Conn {
    constructor(client, name) {
      // cursors: the server hands out cursors on it; sid: a stream's session.
      Object.assign(this, { client, name, proven: false, closed: false, cursors: false, sid: null });
      Object.assign(this, { topics: new Set(), sentDropped: [] });
    }
    get base() { return this.client.url; }
    subscribe(topic) {
      this.topics.add(topic);
      this.command({ op: "subscribe", topic }).catch(() => {});
    }
    unsubscribe(topic) {
      this.topics.delete(topic);
      this.command({ op: "unsubscribe", topic }).catch(() => {});
    }
    // command, on a stream: POST /send?sid=S; the reply comes on the stream.
    command(cmd) {
      return fetch(this.base + "/send?sid=" + encodeURIComponent(this.sid) + this.client._token("&"), {
        method: "POST", body: JSON.stringify(cmd), credentials: this.client._credentials(),
      }).then((r) => {
        if (r.status === 404) throw new NotDelivered("c1m: the stream's session is gone");
        if (!r.ok) throw new Error("c1m: /send answered " + r.status);
        return undefined;
      });
    }
    fail(why) {
      if (!this.closed) this.client._closed(this, why);
    }
  }

  // WebSocket with the envelope subprotocol: resume by since=/epoch= in
  // the URL; commands as messages.
  class WebSocketConn extends Conn {
    static supported() { return typeof WebSocket === "function"; }
    start() {
      const q = this.client._query(this);
      const url = this.base.replace(/^http/, "ws") + this.client.options.path + "?" + q;
      const ws = (this.ws = new WebSocket(url, PROTOCOL));
      ws.onopen = () => {
        if (ws.protocol !== PROTOCOL) return this.fail(new Error("c1m: the server does not speak " + PROTOCOL));
        this.client._opened(this);
      };
      ws.onmessage = (e) => {
        let obj = null;
        try { obj = JSON.parse(e.data); } catch (err) { /* not ours */ }
        if (obj && (obj.op !== undefined || typeof obj.topic === "string")) this.client._object(this, obj);
        else if (this.proven) this.client._emit("message", e.data); // an embedding program's own
      };
      ws.onclose = (e) => this.fail(new Error("c1m: WebSocket closed, code " + e.code));
    }
    command(cmd) {
      this.ws.send(JSON.stringify(cmd));
      return Promise.resolve(undefined);
    }
    close() {
      this.closed = true;
      if (!this.ws) return;
      this.ws.onopen = this.ws.onmessage = this.ws.onclose = null;
      try { this.ws.close(1000); } catch (err) { /* already closed */ }
    }
  }

  // Server-Sent Events: resume by the cursor of the last event id. The
  // browser's own reconnection would resume within one EventSource only,
  // and could not follow subscriptions made since, so the client closes
  // the EventSource on its first error and reconnects itself.
  class SSEConn extends Conn {
    static supported() { return typeof EventSource === "function"; }
    start() {
      this.cursors = true;
      const q = this.client._query(this);
      const es = (this.es = new EventSource(this.base + "/sse?" + q, { withCredentials: this.client.options.withCredentials }));
      const on = (e) => {
        if (typeof e.data !== "string") return; // the browser's own open event
        this.client._setCursor(this, e.lastEventId);
        let obj;
        try { obj = JSON.parse(e.data); } catch (err) { return; }
        this.client._object(this, obj);
      };
      es.onmessage = on;
      // The open and message objects are the "session" and "direct"
      // events (PROTOCOL.md), apart from EventSource's own open event and
      // from publications.
      for (const name of ["session", "direct", "subscribed", "reset"]) es.addEventListener(name, on);
      es.onerror = () => this.fail(new Error("c1m: the event stream ended"));
    }
    close() {
      this.closed = true;
      if (this.es) this.es.close();
    }
  }

  // HTTP streaming: newline-delimited JSON read from fetch's body stream.
  // Resume by since=/epoch=, like WebSocket.
  class StreamConn extends Conn {
    static supported() { return typeof fetch === "function" && typeof ReadableStream === "function"; }
    start() {
      const q = this.client._query(this);
      this.ctrl = new AbortController();
      fetch(this.base + "/stream?" + q, { signal: this.ctrl.signal, cache: "no-store", credentials: this.client._credentials() })
        .then((r) => {
          if (!r.ok || !r.body) throw new Error("c1m: /stream answered " + r.status);
          return this.read(r.body.getReader());
        })
        .then(() => this.fail(new Error("c1m: the stream ended")), (err) => this.fail(err));
    }
    async read(reader) {
      const dec = new TextDecoder();
      let rest = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done || this.closed) return;
        const lines = (rest + dec.decode(value, { stream: true })).split("\n");
        rest = lines.pop();
        for (const line of lines) {
          if (this.closed) return;
          if (line.trim() !== "") this.client._object(this, JSON.parse(line));
        }
      }
    }
    close() {
      this.closed = true;
      if (this.ctrl) this.ctrl.abort();
    }
  }

  // Long-polling: each poll passes the cursor of the last reply, and adds
  // topic= and unsubscribe= for what changed since; a change aborts the
  // poll being held and polls again at once. The first poll answers at once
  // (wait=0), which proves the transport. A publish is a POST /send of its
  // own, whose answer holds the reply.
  class PollConn extends Conn {
    static supported() { return typeof fetch === "function" && typeof AbortController === "function"; }
    start() {
      this.cursors = true;
      this.loop().catch((err) => this.fail(err));
    }
    async loop() {
      while (!this.closed) {
        const q = this.client._query(this);
        const sentDropped = this.sentDropped;
        const wait = this.proven ? this.client.options.pollWait : 0;
        if (wait !== null) q.set("wait", wait);
        const held = (wait === null ? DEFAULT_POLL_WAIT : wait) * 1000 + POLL_SLACK;
        this.ctrl = new AbortController();
        const timer = setTimeout(() => { this.lost = true; this.ctrl.abort(); }, held);
        let reply;
        try {
          reply = await this.get(this.base + "/poll?" + q, this.ctrl.signal);
        } catch (err) {
          if (this.closed) return;
          if (this.restart && !this.lost) { // aborted to change topics
            this.restart = false;
            continue;
          }
          throw err;
        } finally {
          clearTimeout(timer);
          this.ctrl = null;
        }
        if (this.closed) return;
        this.restart = false; // an abort that came too late to cut anything
        this.client._setCursor(this, reply.cursor);
        for (const t of sentDropped) this.client._dropped.delete(t);
        this.client._opened(this);
        for (const m of reply.messages || []) {
          if (this.closed) return;
          this.client._object(this, m);
        }
      }
    }
    get(url, signal) {
      return fetch(url, { signal, cache: "no-store", credentials: this.client._credentials() }).then((r) => {
        if (!r.ok) throw new Error("c1m: /poll answered " + r.status);
        return r.json();
      });
    }
    // The next poll names the topics as they are now: a held poll is cut
    // short. What it would have answered comes with the next one, since the
    // cursor did not move.
    subscribe() { this.again(); }
    unsubscribe() { this.again(); }
    again() {
      if (this.ctrl) {
        this.restart = true;
        this.ctrl.abort();
      }
    }
    command(cmd) {
      return fetch(this.base + "/send" + this.client._token("?"), {
        method: "POST", body: JSON.stringify(cmd), credentials: this.client._credentials(),
      }).then((r) => r.text()).then((text) => {
        for (const line of text.split("\n")) {
          try { if (JSON.parse(line).id === cmd.id) return JSON.parse(line); } catch (err) { /* not ours */ }
        }
        return null; // no reply given (a server with workers answers later)
      });
    }
    close() {
      this.closed = true;
      if (this.ctrl) this.ctrl.abort();
    }
  }

  // JSONP polling: long-polling through <script> elements, for browsers
  // that cannot read another origin with fetch. The server must run with
  // -jsonp.
  let jsonpSeq = 0;
  class JSONPConn extends PollConn {
    static supported() { return typeof document === "object" && typeof AbortController === "function"; }
    get(url, signal) {
      return new Promise((resolve, reject) => {
        const name = "r" + ++jsonpSeq;
        const callbacks = (global.c1mJSONP = global.c1mJSONP || {});
        const script = document.createElement("script");
        // The first of these settles; the callback stays until the script
        // has run, even after an abort: a script already fetched runs anyway.
        callbacks[name] = resolve;
        signal.addEventListener("abort", () => reject(new Error("c1m: JSONP poll aborted")));
        script.onload = script.onerror = () => {
          delete callbacks[name];
          script.remove();
          reject(new Error("c1m: JSONP poll failed"));
        };
        script.src = url + "&callback=c1mJSONP." + name;
        document.head.appendChild(script);
      });
    }
  }

  const TRANSPORTS = { websocket: WebSocketConn, sse: SSEConn, stream: StreamConn, poll: PollConn, jsonp: JSONPConn };

  const api = {
    // connect returns a client of the server at url (default: this page's
    // origin); see DEFAULTS for the options.
    connect: (url, options) => new Client(url, options),
    Client,
    transports: Object.keys(TRANSPORTS),
    version: "1",
  };
  global.c1m = api;
  if (typeof module === "object" && module && module.exports) module.exports = api;
})(typeof globalThis !== "undefined" ? globalThis : this);
