// The npm socket.io-client steered step by step by a Go test
// (cmd/c1m/cluster_sio_fail_test.go), in a conversation through
// harness.mjs: one client (WebSocket only, no reconnection of its own)
// whose every move the test orders, so that the test can stop NATS,
// restart nodes and publish between the moves.
//
//   node sio-steer.mjs
//
// The test says, and the script answers:
//   {"ev":"connect","url":U,"within":MS}  connects to U (the first time
//                             a new socket; later the same socket, with its
//                             pid and offset), failing unless answered
//                             within MS when given: {"ev":"connected","id","pid",
//                             "recovered","offset"}; a connect_error fails
//   {"ev":"join","room":R}    the subscribe event: {"ev":"joined","err"}
//   {"ev":"drop"}             the connection ends as a network failure
//                             (unless it ended already: its node was
//                             killed): {"ev":"dropped","reason"}
//   {"ev":"expect","messages":[...]}  waits until the messages received
//                             since the last expect are exactly these, in
//                             order, and no more come at once:
//                             {"ev":"received"}; a wrong one fails
//   {"ev":"end"}              closes the socket and reports
import { io } from "socket.io-client";
import { at, command, main, say } from "./harness.mjs";

async function run() {
  let socket = null;
  let got = [];
  let lastReason = null;
  for (;;) {
    const cmd = await command();
    switch (cmd.ev) {
      case "connect": {
        if (socket === null) {
          socket = io(cmd.url, { transports: ["websocket"], forceNew: true, reconnection: false });
          socket.on("message", (data) => got.push(data));
          socket.on("disconnect", (reason) => (lastReason = reason));
        } else {
          socket.io.uri = cmd.url;
          socket.connect();
        }
        at(`connecting to ${cmd.url}`);
        const answered = new Promise((resolve, reject) => {
          const ok = () => {
            socket.off("connect_error", bad);
            resolve();
          };
          const bad = (e) => {
            socket.off("connect", ok);
            reject(new Error(`connect_error: ${e.message}`));
          };
          socket.once("connect", ok);
          socket.once("connect_error", bad);
        });
        if (cmd.within) {
          // A hang guard: the CONNECT must be answered by then.
          let timer;
          const late = new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error(`CONNECT not answered within ${cmd.within} ms`)), cmd.within);
          });
          try {
            await Promise.race([answered, late]);
          } finally {
            clearTimeout(timer);
          }
        }
        await answered;
        say("connected", { id: socket.id, pid: socket._pid, recovered: socket.recovered, offset: socket._lastOffset });
        break;
      }
      case "join": {
        at(`joining ${cmd.room}`);
        const err = await socket.timeout(20_000).emitWithAck("subscribe", cmd.room);
        say("joined", { err });
        break;
      }
      case "drop": {
        at("dropping the connection");
        if (!socket.connected) {
          say("dropped", { reason: lastReason }); // its node went first
          break;
        }
        const dropped = new Promise((resolve) => socket.once("disconnect", resolve));
        socket.io.engine.close(); // as a network failure
        say("dropped", { reason: await dropped });
        break;
      }
      case "expect": {
        const want = JSON.stringify(cmd.messages);
        while (got.length < cmd.messages.length) {
          at(`waiting for ${want}, have ${JSON.stringify(got)}`);
          await new Promise((r) => setTimeout(r, 10));
        }
        await new Promise((r) => setTimeout(r, 200)); // a duplicate would show now
        if (JSON.stringify(got) !== want) throw new Error(`got ${JSON.stringify(got)}, want ${want}`);
        got = [];
        say("received");
        break;
      }
      case "end":
        if (socket !== null) socket.close();
        return { ok: true };
      default:
        throw new Error(`unknown command ${JSON.stringify(cmd)}`);
    }
  }
}
main(run);
