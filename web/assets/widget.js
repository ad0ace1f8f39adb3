// Switchboard customer widget: one thread for chat and calls.
// /widget?token=<browser token>[&to=<our webrtc address>]
(function () {
  "use strict";
  var params = new URLSearchParams(location.search);
  var token = params.get("token") || "";
  var to = params.get("to") || "";
  var $ = function (id) { return document.getElementById(id); };
  var thread = $("thread"), stateEl = $("call-state"), errorEl = $("error");
  var callBtn = $("call-btn"), hangupBtn = $("hangup-btn"), audio = $("remote-audio");
  var form = $("compose"), input = $("text");
  var keypad = $("keypad"), keys = Array.prototype.slice.call(keypad.querySelectorAll("button"));

  var session = null;   // GET /v1/rtc/session
  var state = "idle";   // idle | ringing | connecting | in-call | ended | error
  var call = null;      // sbRTC.connect's call: {pc, stream, dc, id, close}
  var entries = [];     // timeline, oldest first
  var rendered = "";
  var dead = false;     // the token was refused: stop everything
  var digits = [];
  var lastStats = null;
  var labels = { idle: "Ready", ringing: "Incoming call", connecting: "Connecting…", "in-call": "On a call", ended: "Call ended", error: "Unavailable" };
  var doneStatuses = window.sbThread.done;

  function setState(s) {
    state = s;
    stateEl.textContent = labels[s] || s;
    stateEl.setAttribute("data-state", s);
    var live = s === "connecting" || s === "in-call", ringing = s === "ringing";
    callBtn.disabled = dead || live;
    hangupBtn.disabled = !live && !ringing;
    callBtn.textContent = ringing ? "Answer" : "Call";
    hangupBtn.textContent = ringing ? "Decline" : "Hang up";
    keys.forEach(function (k) { k.disabled = s !== "in-call"; });
    keypad.hidden = !live; // room for the thread on a phone between calls
    input.disabled = dead;
    form.querySelector("button").disabled = dead;
  }

  function showError(msg) {
    errorEl.textContent = msg;
    errorEl.hidden = !msg;
  }

  // api calls a browser route; a refused token stops the widget for good.
  function api(method, path, body, type) {
    var headers = { Authorization: "Bearer " + token };
    if (body !== undefined) headers["Content-Type"] = type || "application/json";
    return fetch(path, { method: method, headers: headers, body: body === undefined ? undefined : (type ? body : JSON.stringify(body)) })
      .then(function (resp) {
        if (resp.status === 401) {
          dead = true;
          endCall();
          setState("error");
          showError("This chat link has expired or is not valid. Reload the page you came from to start again.");
          throw new Error("unauthorized");
        }
        if (!resp.ok) {
          return resp.json().catch(function () { return {}; }).then(function (p) {
            throw new Error(p.detail || p.title || ("HTTP " + resp.status));
          });
        }
        return resp;
      });
  }

  // --- the thread ---
  var bubble = window.sbThread.bubble;

  // view turns a timeline entry into a bubble, or null to leave it out.
  function view(e) {
    if (e.type === "message" && e.message) {
      var m = e.message, via = m.channel && m.channel !== "webrtc" ? "via " + m.channel : "";
      return bubble(m.direction === "inbound" ? "mine" : "theirs", m.text || "(attachment)", via);
    }
    // Transcripts of chats repeat their messages; only a call's turns are new.
    if (e.type === "transcript" && e.transcript && e.transcript.call_id) {
      var t = e.transcript;
      if (t.role === "bot" && t.text) return bubble("theirs", t.text, "on the call");
      if (t.role === "caller" && t.kind === "dtmf") return bubble("note", "You pressed " + t.text);
      if (t.role === "caller" && t.text) return bubble("mine", t.text, "on the call");
      return null; // system notes are for agents (the inbox shows them)
    }
    if (e.type === "call" && e.call) {
      var c = e.call, done = doneStatuses[c.status];
      if ((c.to || "").indexOf("agent:") === 0) return c.answered_at ? bubble("note", "An agent joined the call") : null;
      if (done && c.status !== "completed") return bubble("note", "Call " + c.status.replace("-", " "));
      if (c.status === "queued" || c.status === "ringing") return bubble("note", c.direction === "outbound" ? "Incoming call" : "Calling…");
      return bubble("note", done ? "Call ended" + (c.duration ? " (" + c.duration + " s)" : "") : "Call started");
    }
    return null;
  }

  function render() {
    var key = entries.map(function (e) { return e.id + (e.call ? ":" + e.call.status : ""); }).join(",");
    if (key === rendered) return;
    rendered = key;
    var frag = document.createDocumentFragment();
    entries.forEach(function (e) {
      var b = view(e);
      if (b) { b.setAttribute("data-id", e.id); b.setAttribute("data-type", e.type); frag.appendChild(b); }
    });
    thread.replaceChildren(frag);
    thread.scrollTop = thread.scrollHeight;
  }

  var polling = false;
  function poll() {
    if (dead || polling) return Promise.resolve();
    polling = true;
    return api("GET", "/v1/rtc/messages?limit=100").then(function (r) { return r.json(); }).then(function (l) {
      entries = (l.data || []).slice().reverse();
      render();
      // The server ended our call (the flow hung up): notice it here too.
      if (call && call.id) {
        entries.forEach(function (e) {
          if (e.type === "call" && e.call && e.call.id === call.id && doneStatuses[e.call.status]) endCall();
        });
      }
    }).catch(function () {}).then(checkRinging).then(function () { polling = false; });
  }

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var text = input.value.trim();
    if (!text || dead) return;
    input.disabled = true;
    api("POST", "/v1/rtc/messages", { text: text }).then(function () {
      input.value = "";
      showError("");
      poll();
    }).catch(function (err) {
      if (!dead) showError("Your message was not sent: " + err.message);
    }).then(function () { input.disabled = dead; input.focus(); });
  });

  // --- the call ---
  function endCall() {
    if (!call) return;
    var c = call;
    call = null;
    clearInterval(c.statsTimer);
    c.close();
    if (!dead) setState("ended");
    poll();
  }

  var audioStats = window.sbRTC.audioStats;

  // dial opens a call whose offer post sends: our address's bot
  // (POST /v1/rtc/calls) or a call ringing us (POST …/answer).
  function dial(post) {
    if (dead || call) return;
    showError("");
    setState("connecting");
    var c = null;
    window.sbRTC.connect({
      iceServers: session && session.ice_servers,
      audio: audio,
      post: post,
      patch: function (location, frag) { return api("PATCH", location, frag, "application/trickle-ice-sdpfrag"); },
      abandon: function (id) { api("DELETE", "/v1/rtc/calls/" + encodeURIComponent(id)).catch(function () {}); },
      started: function (started) {
        c = started;
        c.statsTimer = 0;
        call = c;
      },
      onState: function (s) {
        if (call !== c) return;
        if (s === "connected") setState("in-call");
      },
      onClose: function () { if (call === c) endCall(); }
    }).then(function () {
      if (call !== c) return;
      c.dc.addEventListener("close", function () { if (call === c && state === "in-call") endCall(); });
      c.statsTimer = setInterval(function () {
        if (call === c) audioStats(c.pc).then(function (s) { lastStats = s; }).catch(function () {});
      }, 500);
    }).catch(function (err) {
      if (dead) return;
      if (call === c) {
        showError(err && err.name === "NotAllowedError" ? "The call needs your microphone." : "The call failed: " + (err && err.message));
        if (c.id) api("DELETE", "/v1/rtc/calls/" + encodeURIComponent(c.id)).catch(function () {});
        endCall();
      }
      if (!call) setState("idle"); // not over a newer call's state
    });
  }

  function startCall() {
    if (incoming) return answer();
    var query = to ? "?to=" + encodeURIComponent(to) : "";
    dial(function (sdp) { return api("POST", "/v1/rtc/calls" + query, sdp, "application/sdp"); });
  }

  // A call ringing this browser: an agent calling, or a call placed to the
  // customer through the API.
  var incoming = null;

  function checkRinging() {
    if (dead || call) return Promise.resolve();
    return api("GET", "/v1/rtc/calls").then(function (r) { return r.json(); }).then(function (l) {
      if (call) return;
      var ring = (l.data || [])[0] || null;
      var was = incoming;
      incoming = ring;
      if (ring && (!was || was.id !== ring.id)) setState("ringing");
      if (!ring && was && state === "ringing") setState("idle");
    }).catch(function () {});
  }

  function answer() {
    var ring = incoming;
    if (!ring) return;
    incoming = null;
    dial(function (sdp) { return api("POST", "/v1/rtc/calls/" + encodeURIComponent(ring.id) + "/answer", sdp, "application/sdp"); });
  }

  function decline() {
    var ring = incoming;
    if (!ring) return;
    incoming = null;
    setState("idle");
    api("DELETE", "/v1/rtc/calls/" + encodeURIComponent(ring.id)).catch(function () {}).then(poll);
  }

  function hangUp() {
    if (incoming && !call) return decline();
    if (!call) return;
    var id = call.id;
    endCall();
    if (id) api("DELETE", "/v1/rtc/calls/" + encodeURIComponent(id)).catch(function () {}).then(poll);
  }

  function sendDigit(d) {
    if (!call || !call.dc || call.dc.readyState !== "open") return false;
    call.dc.send(d);
    digits.push(d);
    return true;
  }

  callBtn.addEventListener("click", startCall);
  hangupBtn.addEventListener("click", hangUp);
  keys.forEach(function (k) {
    k.addEventListener("click", function () { sendDigit(k.getAttribute("data-digit")); });
  });
  document.addEventListener("keydown", function (ev) {
    if (state === "in-call" && document.activeElement !== input && /^[0-9*#]$/.test(ev.key)) sendDigit(ev.key);
  });

  // Test and integration hooks.
  window.sbWidget = {
    get pc() { return call && call.pc; },
    get dc() { return call && call.dc; },
    get callId() { return call && call.id; },
    get trickled() { return call ? call.trickled : 0; },
    get state() { return state; },
    get error() { return errorEl.hidden ? "" : errorEl.textContent; },
    get entries() { return entries; },
    get digits() { return digits.slice(); },
    get lastStats() { return lastStats; },
    stats: function () { return call && call.pc ? audioStats(call.pc) : Promise.resolve(lastStats); },
    get incoming() { return incoming; },
    call: startCall,
    answer: answer,
    decline: decline,
    hangUp: hangUp,
    sendDigit: sendDigit,
    poll: poll
  };

  setState("idle");
  if (!token) {
    dead = true;
    setState("error");
    showError("This chat link has no token. Open the chat from the site you came from.");
    return;
  }
  api("GET", "/v1/rtc/session").then(function (r) { return r.json(); }).then(function (s) {
    session = s;
    poll();
    setInterval(poll, 1000);
  }).catch(function (err) {
    if (!dead) showError("Could not reach support: " + err.message);
  });
})();
