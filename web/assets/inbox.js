// Switchboard agent inbox: conversations, a customer's cross-channel
// timeline, replies, taking a conversation over from the bot, and browser
// calls: answering a flow's transfer to agent:<name>, calling a customer.
(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };
  var KEY = "sb.apiKey", AGENT = "sb.agent";
  var errorEl = $("error"), loginForm = $("login"), panes = $("panes"), who = $("who");
  var listEl = $("conversations"), emptyEl = $("empty"), placeholder = $("placeholder"), convEl = $("conv");
  var titleEl = $("conv-title"), ownerEl = $("conv-owner"), timelineEl = $("timeline");
  var takeBtn = $("take-over"), backBtn = $("hand-back"), replyForm = $("reply"), replyText = $("reply-text");
  var agentInput = $("agent-name");
  var callbar = $("callbar"), callStatus = $("call-status"), answerBtn = $("answer-btn"), agentHangup = $("agent-hangup");
  var callCustomerBtn = $("call-customer"), agentAudio = $("agent-audio");

  var key = localStorage.getItem(KEY) || "";
  var conversations = [];   // open first, then recently closed
  var customers = {};       // id -> customer (names for the list)
  var selected = null;      // conversation id
  var timeline = [];        // the selected customer's, oldest first
  var renderedList = "", renderedTimeline = "";
  var timer = 0, busy = false;

  function showError(msg) { errorEl.textContent = msg || ""; errorEl.hidden = !msg; }

  function api(method, path, body) {
    var headers = { Authorization: "Bearer " + key };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    return fetch(path, { method: method, headers: headers, body: body === undefined ? undefined : JSON.stringify(body) })
      .then(function (resp) {
        if (resp.status === 401) { logout("That API key was refused."); throw new Error("unauthorized"); }
        if (!resp.ok) {
          return resp.json().catch(function () { return {}; }).then(function (p) { throw new Error(p.detail || p.title || "HTTP " + resp.status); });
        }
        return resp.status === 204 ? null : resp.json();
      });
  }

  // --- login ---
  function logout(msg) {
    endCall();
    incoming = null;
    key = "";
    localStorage.removeItem(KEY);
    clearInterval(timer);
    selected = null;
    panes.hidden = true;
    who.hidden = true;
    loginForm.hidden = false;
    showError(msg || "");
  }

  // STUN/TURN servers for the agent's calls, as the server is configured.
  var iceServers = [];
  function loadICEServers() {
    return api("GET", "/v1/webrtc/ice-servers").then(function (r) { iceServers = r.ice_servers || []; }).catch(function () {});
  }

  function loggedIn() {
    loadICEServers();
    loginForm.hidden = true;
    panes.hidden = false;
    who.hidden = false;
    agentInput.value = localStorage.getItem(AGENT) || "agent";
    showError("");
    refresh();
    clearInterval(timer);
    timer = setInterval(refresh, 2000);
  }

  loginForm.addEventListener("submit", function (ev) {
    ev.preventDefault();
    key = $("api-key").value.trim();
    if (!key) return;
    api("GET", "/v1/conversations?limit=1").then(function () {
      localStorage.setItem(KEY, key);
      $("api-key").value = "";
      loggedIn();
    }).catch(function (err) { if (key) showError("Could not log in: " + err.message); });
  });
  $("logout").addEventListener("click", function () { logout(""); });
  agentInput.addEventListener("change", function () { localStorage.setItem(AGENT, agentInput.value.trim() || "agent"); });
  function agentName() { return agentInput.value.trim() || "agent"; }

  // --- conversations ---
  function customerName(id) {
    var c = customers[id];
    if (!c) return id;
    if (c.name) return c.name;
    var ids = c.identities || [];
    return ids.length ? ids[0].address : id;
  }

  function loadCustomers(list) {
    var missing = [];
    list.forEach(function (c) { if (!(c.customer_id in customers) && missing.indexOf(c.customer_id) < 0) missing.push(c.customer_id); });
    return Promise.all(missing.map(function (id) {
      customers[id] = null; // asked once; the id stands in until it answers
      return api("GET", "/v1/customers/" + encodeURIComponent(id)).then(function (c) { customers[id] = c; }).catch(function () {});
    }));
  }

  function renderList() {
    var key = conversations.map(function (c) {
      return [c.id, c.status, c.agent || "", (c.channels || []).join("+"), customerName(c.customer_id), c.id === selected].join("|");
    }).join(",");
    if (key === renderedList) return;
    renderedList = key;
    var frag = document.createDocumentFragment();
    conversations.forEach(function (c) {
      var li = document.createElement("li");
      var b = document.createElement("button");
      b.type = "button";
      b.setAttribute("data-id", c.id);
      b.setAttribute("data-customer", c.customer_id);
      if (c.id === selected) b.setAttribute("aria-current", "true");
      var name = document.createElement("span");
      name.className = "who";
      name.textContent = customerName(c.customer_id);
      b.appendChild(name);
      var tag = document.createElement("span");
      tag.className = "tag" + (c.status === "closed" ? " closed" : "");
      tag.textContent = c.status === "closed" ? "closed" : (c.agent ? "agent: " + c.agent : "bot");
      b.appendChild(tag);
      var sub = document.createElement("span");
      sub.className = "sub";
      sub.textContent = (c.channels || []).join(", ") + " · " + c.message_count + " messages · " + new Date(c.last_activity_at).toLocaleString();
      b.appendChild(sub);
      b.addEventListener("click", function () { select(c.id); });
      li.appendChild(b);
      frag.appendChild(li);
    });
    listEl.replaceChildren(frag);
    emptyEl.hidden = conversations.length > 0;
  }

  function current() {
    for (var i = 0; i < conversations.length; i++) if (conversations[i].id === selected) return conversations[i];
    return null;
  }

  function renderOwner() {
    var c = current();
    if (!c) return;
    titleEl.textContent = customerName(c.customer_id);
    ownerEl.textContent = c.status === "closed" ? "closed" : (c.agent ? "Agent: " + c.agent : "Bot answers");
    ownerEl.setAttribute("data-agent", c.agent || "");
    takeBtn.disabled = c.status === "closed" || c.agent === agentName();
    backBtn.disabled = c.status === "closed" || !c.agent;
    callCustomerBtn.disabled = !!call;
  }

  // --- the timeline ---
  var bubble = window.sbThread.bubble;

  function view(e) {
    if (e.type === "message" && e.message) {
      var m = e.message;
      return bubble(m.direction === "inbound" ? "theirs" : "mine", m.text || "(attachment)", m.channel + " · " + m.status);
    }
    if (e.type === "transcript" && e.transcript && e.transcript.call_id) {
      var t = e.transcript;
      if (t.kind === "dtmf") return bubble("note", "Caller pressed " + t.text);
      if (!t.text) return null;
      return bubble(t.role === "caller" ? "theirs" : t.role === "bot" ? "mine" : "note", t.text, t.role + " on the call");
    }
    if (e.type === "call" && e.call) {
      var c = e.call;
      return bubble("note", c.channel + " call " + c.direction + " · " + c.status + (c.duration ? " · " + c.duration + " s" : ""));
    }
    if (e.type === "event" && e.event) return bubble("note", e.event.type);
    return null;
  }

  function renderTimeline() {
    var key = selected + "/" + timeline.map(function (e) {
      return e.id + (e.message ? ":" + e.message.status : "") + (e.call ? ":" + e.call.status : "");
    }).join(",");
    if (key === renderedTimeline) return;
    renderedTimeline = key;
    var frag = document.createDocumentFragment();
    timeline.forEach(function (e) {
      var b = view(e);
      if (b) { b.setAttribute("data-id", e.id); b.setAttribute("data-type", e.type); frag.appendChild(b); }
    });
    timelineEl.replaceChildren(frag);
    timelineEl.scrollTop = timelineEl.scrollHeight;
  }

  function loadTimeline() {
    var c = current();
    if (!c) return Promise.resolve();
    var id = c.id;
    return api("GET", "/v1/customers/" + encodeURIComponent(c.customer_id) + "/timeline?limit=100").then(function (l) {
      if (selected !== id) return;
      timeline = (l.data || []).slice().reverse();
      renderTimeline();
    });
  }

  function select(id) {
    selected = id;
    timeline = [];
    renderedTimeline = "";
    timelineEl.replaceChildren();
    placeholder.hidden = true;
    convEl.hidden = false;
    renderList();
    renderOwner();
    loadTimeline().catch(function (err) { showError(err.message); });
  }

  // --- browser calls ---
  var call = null;      // sbRTC.connect's call, plus state and customer
  var incoming = null;  // a call ringing agent:<name>
  var callLabels = { connecting: "Connecting…", ringing: "Ringing the customer…", "in-call": "On a call", ended: "Call ended" };

  // send is a request with a body of its own type (SDP, ICE fragments).
  function send(method, path, type, body) {
    return fetch(path, { method: method, headers: { Authorization: "Bearer " + key, "Content-Type": type }, body: body })
      .then(function (resp) {
        if (resp.ok) return resp;
        return resp.json().catch(function () { return {}; }).then(function (p) { throw new Error(p.detail || p.title || "HTTP " + resp.status); });
      });
  }

  function sdpPost(path) {
    return function (sdp) { return send("POST", path, "application/sdp", sdp); };
  }

  function trickle(location, frag) { return send("PATCH", location, "application/trickle-ice-sdpfrag", frag); }

  function renderCall() {
    var ringing = !call && incoming;
    callbar.hidden = !call && !incoming;
    callbar.setAttribute("data-state", call ? call.state : ringing ? "incoming" : "");
    answerBtn.hidden = !ringing;
    agentHangup.textContent = ringing ? "Decline" : "Hang up";
    if (ringing) callStatus.textContent = "Incoming call from " + customerName(incoming.customer_id);
    else if (call) callStatus.textContent = (callLabels[call.state] || call.state) + (call.customer ? " · " + customerName(call.customer) : "");
    callCustomerBtn.disabled = !!call || !current();
  }

  function setCallState(c, s) {
    if (call !== c) return;
    c.state = s;
    renderCall();
  }

  function dial(post, customer, state) {
    if (call) return;
    showError("");
    var c = null;
    window.sbRTC.connect({
      audio: agentAudio,
      post: post,
      patch: trickle,
      iceServers: iceServers,
      abandon: function (id) { api("POST", "/v1/calls/" + encodeURIComponent(id) + "/hangup").catch(function () {}); },
      started: function (started) { c = started; c.state = "connecting"; c.customer = customer; call = c; renderCall(); },
      onState: function (s) { if (s === "connected" && c.state === "connecting") setCallState(c, state); },
      onClose: function () { if (call === c) endCall(); }
    }).catch(function (err) {
      if (call !== c) return;
      showError("The call failed: " + (err && err.message));
      endCall();
    });
  }

  // endCall hangs up here. A connected call ends on the server when our
  // peer connection closes (hangup_by agent); one still ringing or
  // connecting is hung up through the API.
  function endCall() {
    if (!call) return;
    var c = call;
    call = null;
    c.close();
    if (c.id && c.state !== "in-call") api("POST", "/v1/calls/" + encodeURIComponent(c.id) + "/hangup").catch(function () {});
    renderCall();
  }

  function answerCall() {
    var ring = incoming;
    if (!ring || call) return;
    incoming = null;
    conversations.forEach(function (cv) { if (cv.id === ring.conversation_id && selected !== cv.id) select(cv.id); });
    dial(sdpPost("/v1/calls/" + encodeURIComponent(ring.id) + "/answer"), ring.customer_id, "in-call");
  }

  function declineCall() {
    var ring = incoming;
    incoming = null;
    renderCall();
    if (ring) api("POST", "/v1/calls/" + encodeURIComponent(ring.id) + "/hangup").catch(function (err) { showError(err.message); });
  }

  function callCustomer() {
    var cv = current();
    if (!cv || call) return;
    dial(sdpPost("/v1/agents/" + encodeURIComponent(agentName()) + "/calls?customer_id=" + encodeURIComponent(cv.customer_id)), cv.customer_id, "ringing");
  }

  // watchCalls finds transfers ringing this agent and follows our call.
  function watchCalls() {
    var checks = [api("GET", "/v1/calls?status=ringing&to=" + encodeURIComponent("agent:" + agentName()) + "&limit=5").then(function (l) {
      var ring = (l.data || [])[0] || null;
      if (call) ring = null;
      if ((ring && ring.id) !== (incoming && incoming.id)) { incoming = ring; renderCall(); }
    })];
    if (call && call.id) {
      var c = call;
      checks.push(api("GET", "/v1/calls/" + encodeURIComponent(c.id)).then(function (cl) {
        if (call !== c) return;
        if (cl.status === "in-progress" && c.state === "ringing") setCallState(c, "in-call");
        if (window.sbThread.done[cl.status]) { c.id = null; endCall(); }
      }));
    }
    return Promise.all(checks);
  }

  answerBtn.addEventListener("click", answerCall);
  agentHangup.addEventListener("click", function () { if (call) endCall(); else declineCall(); });
  callCustomerBtn.addEventListener("click", callCustomer);

  function refresh() {
    if (busy || !key) return Promise.resolve();
    busy = true;
    return Promise.all([
      api("GET", "/v1/conversations?status=open&limit=50"),
      api("GET", "/v1/conversations?status=closed&limit=20"),
      watchCalls()
    ]).then(function (r) {
      conversations = (r[0].data || []).concat(r[1].data || []);
      return loadCustomers(conversations);
    }).then(function () {
      renderList();
      renderOwner();
      renderCall();
      return loadTimeline();
    }).then(function () { showError(""); }).catch(function (err) {
      if (key) showError("Refresh failed: " + err.message);
    }).then(function () { busy = false; });
  }

  function update(conv) {
    for (var i = 0; i < conversations.length; i++) if (conversations[i].id === conv.id) conversations[i] = conv;
    renderList();
    renderOwner();
  }

  takeBtn.addEventListener("click", function () {
    if (!selected) return;
    api("POST", "/v1/conversations/" + encodeURIComponent(selected) + "/agent", { agent: agentName() })
      .then(update).catch(function (err) { showError("Could not take over: " + err.message); });
  });
  backBtn.addEventListener("click", function () {
    if (!selected) return;
    api("DELETE", "/v1/conversations/" + encodeURIComponent(selected) + "/agent")
      .then(update).catch(function (err) { showError("Could not hand back: " + err.message); });
  });
  replyForm.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var text = replyText.value.trim();
    if (!text || !selected) return;
    replyText.disabled = true;
    api("POST", "/v1/conversations/" + encodeURIComponent(selected) + "/messages", { text: text }).then(function () {
      replyText.value = "";
      return loadTimeline();
    }).catch(function (err) { showError("Reply not sent: " + err.message); })
      .then(function () { replyText.disabled = false; replyText.focus(); });
  });

  // Test hooks.
  window.sbInbox = {
    get selected() { return selected; },
    get conversations() { return conversations; },
    get timeline() { return timeline; },
    get call() { return call; },
    get incoming() { return incoming; },
    stats: function () { return call && call.pc ? window.sbRTC.audioStats(call.pc) : Promise.resolve(null); },
    refresh: refresh,
    select: select,
    answer: answerCall,
    callCustomer: callCustomer,
    hangUp: endCall
  };

  if (key) loggedIn(); else logout("");
})();
