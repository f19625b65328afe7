// The npm engine.io-client and socket.io-client refused by a per-client
// limit of the c1m binary at /socket.io/ (it runs with -max-conns-per-ip 1):
//
//   node eio-refused.mjs URL
//
// A first engine.io-client session (polling) holds the address's one
// slot; a second engine.io-client and a socket.io-client, both on
// polling, are refused at their handshake. The report says what each
// client's error event (socket.io-client's connect_error) carried: its
// message, its description (the HTTP status), and the body of the
// server's answer, which the clients hand over as the error's context
// (the XMLHttpRequest, read in the handler: the client aborts it after).
import { Socket } from "engine.io-client";
import { io } from "socket.io-client";
import { at, main } from "./harness.mjs";

const [url] = process.argv.slice(2);

// seen is what the report says of a client's error.
const seen = (e) => ({ message: e.message, description: e.description, body: e.context?.responseText ?? null });

// refused waits for the client's error event ev, failing if it opens.
const refused = (client, ev, opened) =>
  new Promise((resolve, reject) => {
    client.once(ev, (e) => resolve(seen(e)));
    client.once(opened, () => reject(new Error(`${opened} instead of ${ev}`)));
  });

main(async () => {
  at("opening the first session");
  const first = new Socket(url, { path: "/socket.io/", transports: ["polling"] });
  await new Promise((resolve, reject) => {
    first.once("open", resolve);
    first.once("error", (e) => reject(new Error(`the first session: ${e.message}`)));
  });

  at("a second engine.io-client");
  const second = new Socket(url, { path: "/socket.io/", transports: ["polling"] });
  const eio = await refused(second, "error", "open");
  second.close();

  at("a socket.io-client");
  const sock = io(url, { transports: ["polling"], reconnection: false, forceNew: true });
  const sio = await refused(sock, "connect_error", "connect");
  sock.close();
  first.close();
  return { ok: true, eio, sio };
});
