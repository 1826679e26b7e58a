// sockgate chat room demo: the classic Socket.IO tutorial, using the gateway's
// built-in events `join`, `leave` and `message`. No framework; messages are
// rendered with textContent only, so markup in them shows as text.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const status = $("status");
  const roomLabel = $("room");
  const messages = $("messages");
  const form = $("form");
  const input = $("input");
  const notice = $("notice");
  let socket = null; // null while the client bundle is missing

  // First of all, so that the form never submits natively (a page load that
  // would lose the messages), whether or not the client bundle loaded.
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const text = input.value;
    if (socket === null || text === "") return;
    socket.send(text);
    input.value = "";
    input.focus();
  });

  // Socket.IO lives where the page loads the client bundle from (the
  // gateway's -path): ".../socket.io.js" without the file name.
  const bundle = document.querySelector('script[src$="socket.io.js"]');
  const bundlePath = bundle ? new URL(bundle.src).pathname : "/socket.io/socket.io.js";
  if (typeof io !== "function") {
    setStatus("disconnected", "socket.io client bundle did not load from " + bundlePath);
    return;
  }

  socket = io.connect("/", { path: bundlePath.replace(/socket\.io\.js$/, "") });
  $("send").disabled = false;
  let room = ""; // the room this page is in ("" = none: messages reach everyone)

  function setStatus(state, text) {
    status.dataset.state = state;
    status.textContent = text;
  }

  function setRoom(name) {
    room = name;
    roomLabel.textContent = name || "none";
    document.body.dataset.room = name;
  }

  // Each argument is shown as text: strings as they are, anything else as JSON.
  function show(args) {
    const li = document.createElement("li");
    li.dataset.testid = "message";
    li.textContent = args
      .map((a) => (typeof a === "string" ? a : safeJSON(a)))
      .join(" ");
    messages.appendChild(li);
    li.scrollIntoView({ block: "end" });
  }

  function safeJSON(v) {
    if (v instanceof ArrayBuffer || ArrayBuffer.isView(v)) {
      return "<" + v.byteLength + " bytes>";
    }
    try {
      return JSON.stringify(v);
    } catch (e) {
      return String(v);
    }
  }

  function note(text) {
    notice.textContent = text;
  }

  function enter(name) {
    if (name === room) return;
    if (room) socket.emit("leave", room);
    socket.emit("join", name, (res) => {
      if (res === true) {
        setRoom(name);
        note("entered #" + name);
      } else {
        note("could not enter #" + name + ": " + safeJSON(res));
      }
    });
  }

  function leave() {
    if (!room) return;
    const old = room;
    socket.emit("leave", old, () => {
      setRoom("");
      note("left #" + old + ": messages now reach everyone");
    });
  }

  socket.on("connect", () => {
    setStatus("connected", "connected (" + socket.io.engine.transport.name + ")");
    socket.io.engine.once("upgrade", (t) => setStatus("connected", "connected (" + t.name + ")"));
    // The server forgets rooms with the connection: enter the room again.
    if (room) {
      const r = room;
      setRoom("");
      enter(r);
    }
  });
  socket.on("disconnect", (reason) => setStatus("disconnected", "disconnected: " + reason));
  socket.on("connect_error", (err) => setStatus("disconnected", "connect error: " + err.message));
  socket.on("message", (...args) => show(args));

  document.querySelectorAll("[data-join]").forEach((b) => {
    b.addEventListener("click", () => enter(b.dataset.join));
  });
  $("leave").addEventListener("click", leave);
})();
