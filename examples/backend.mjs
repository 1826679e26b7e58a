// An application backend for sockgate, with the Node.js standard library
// only. The gateway asks it who may connect and what events do; it
// publishes through the gateway's server API.
//
//   node examples/backend.mjs
//   go run ./cmd/gateway -api-token secret \
//     -connect-url http://127.0.0.1:4000/connect -event-url http://127.0.0.1:4000/event
//
// Environment: PORT (4000), SOCKGATE_URL (http://127.0.0.1:3000),
// SOCKGATE_API_TOKEN (secret).
import { createServer } from "node:http";

const port = Number(process.env.PORT ?? 4000);
const gateway = process.env.SOCKGATE_URL ?? "http://127.0.0.1:3000";
const apiToken = process.env.SOCKGATE_API_TOKEN ?? "secret";

// Your session store: which password is which user.
const users = new Map([["alice-pw", "alice"], ["bob-pw", "bob"]]);

// publish emits an event to rooms on every gateway node (the server API).
async function publish(rooms, event, ...args) {
  const res = await fetch(`${gateway}/api/v1/emit`, {
    method: "POST",
    headers: { authorization: `Bearer ${apiToken}`, "content-type": "application/json" },
    body: JSON.stringify({ rooms, event, args }),
  });
  if (!res.ok) throw new Error(`publish: HTTP ${res.status} ${await res.text()}`);
}

const routes = {
  // A client connects with io(url, { auth: { password } }).
  "/connect": ({ auth }) => {
    const user = users.get(auth?.password);
    if (!user) return { accept: false, message: "who are you?", data: { login: "/login" } };
    return { accept: true, user, rooms: [`user:${user}`], data: { since: Date.now() } };
  },
  // socket.emit("say", room, text, ack): joins room, tells its members,
  // acks with the number of messages so far.
  // socket.emit("dm", user, text): published to that user's room.
  "/event": ({ user, event, args }) => {
    if (event === "say") {
      const [room, text] = args;
      said += 1;
      return { join: [room], emit: [{ rooms: [room], event: "said", args: [user, text] }], ack: [said] };
    }
    if (event === "dm") {
      const [to, text] = args;
      publish([`user:${to}`], "dm", user, text).catch((err) => console.error(err.message));
      return {};
    }
    return { ack: [{ error: `${event}: unknown event` }] };
  },
};
let said = 0;

createServer((req, res) => {
  const route = routes[req.url];
  if (req.method !== "POST" || !route) return res.writeHead(404).end();
  let body = "";
  req.setEncoding("utf8");
  req.on("data", (chunk) => (body += chunk));
  req.on("end", () => {
    const answer = JSON.stringify(route(JSON.parse(body)));
    res.writeHead(200, { "content-type": "application/json" }).end(answer);
  });
}).listen(port, "127.0.0.1", () => console.log(`backend listening on http://127.0.0.1:${port}`));
