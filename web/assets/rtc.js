// Switchboard browser calls, shared by the widget and the inbox: a peer
// connection with the microphone, a "dtmf" data channel and the far end's
// audio, set up WHIP-style: the SDP offer is POSTed at once and the ICE
// candidates follow as they are found, PATCHed to the answer's Location as
// application/trickle-ice-sdpfrag.
(function () {
  "use strict";

  // audioStats sums the audio RTP statistics of pc (getStats).
  function audioStats(pc) {
    return pc.getStats().then(function (report) {
      var out = { packetsReceived: 0, bytesReceived: 0, audioLevel: 0, totalAudioEnergy: 0, packetsSent: 0 };
      report.forEach(function (s) {
        if (s.type === "inbound-rtp" && (s.kind || s.mediaType) === "audio") {
          out.packetsReceived += s.packetsReceived || 0;
          out.bytesReceived += s.bytesReceived || 0;
          out.audioLevel = Math.max(out.audioLevel, s.audioLevel || 0);
          out.totalAudioEnergy += s.totalAudioEnergy || 0;
        }
        if (s.type === "outbound-rtp" && (s.kind || s.mediaType) === "audio") out.packetsSent += s.packetsSent || 0;
      });
      return out;
    });
  }

  // connect opens a call. opts: iceServers, audio (the <audio> element for
  // the far end), post(sdp) → Promise<Response> (the server's SDP answer,
  // with X-Call-Id and Location), patch(location, frag) → Promise (trickled
  // candidates), abandon(callId) (hang up a call answered after we left),
  // onState(connectionState), onClose(). It resolves with
  // the call: {pc, stream, dc, id, close()}. The call object is handed to
  // opts.started(call) as soon as it exists, so a hang-up can reach it
  // before the answer comes.
  function connect(opts) {
    var c = { pc: null, stream: null, dc: null, id: null, closed: false };
    c.close = function () {
      if (c.closed) return;
      c.closed = true;
      try { if (c.dc) c.dc.close(); } catch (e) { /* already closed */ }
      try { if (c.pc) c.pc.close(); } catch (e) { /* already closed */ }
      if (c.stream) c.stream.getTracks().forEach(function (t) { t.stop(); });
      if (opts.audio) opts.audio.srcObject = null;
      if (opts.onClose) opts.onClose();
    };
    if (opts.started) opts.started(c);
    return navigator.mediaDevices.getUserMedia({ audio: true }).then(function (stream) {
      c.stream = stream;
      if (c.closed) { stream.getTracks().forEach(function (t) { t.stop(); }); throw new Error("hung up"); }
      var pc = new RTCPeerConnection({ iceServers: opts.iceServers || [] });
      c.pc = pc;
      stream.getTracks().forEach(function (t) { pc.addTrack(t, stream); });
      // The data channel must exist before the offer so the offer carries SCTP.
      c.dc = pc.createDataChannel("dtmf");
      pc.addEventListener("track", function (ev) {
        if (!opts.audio) return;
        opts.audio.srcObject = ev.streams[0] || new MediaStream([ev.track]);
        var p = opts.audio.play();
        if (p && p.catch) p.catch(function () {});
      });
      pc.addEventListener("connectionstatechange", function () {
        if (c.closed) return;
        var s = pc.connectionState;
        if (opts.onState) opts.onState(s);
        if (s === "failed" || s === "closed") c.close();
        if (s === "disconnected") setTimeout(function () { if (!c.closed && pc.connectionState === "disconnected") c.close(); }, 3000);
      });
      // Candidates found before the answer names the session wait here.
      var pending = [], location = null;
      c.trickled = 0;
      function trickle(frag) {
        opts.patch(location, frag).then(function () { c.trickled++; }, function () { /* a lost candidate; others may do */ });
      }
      pc.addEventListener("icecandidate", function (ev) {
        var frag = ev.candidate && ev.candidate.candidate ? "a=" + ev.candidate.candidate + "\r\n" : "a=end-of-candidates\r\n";
        if (location) trickle(frag); else pending.push(frag);
      });
      var offerSDP = "";
      return pc.createOffer()
        .then(function (offer) { offerSDP = offer.sdp; return pc.setLocalDescription(offer); })
        .then(function () { return opts.post(offerSDP); })
        .then(function (resp) {
          c.id = resp.headers.get("X-Call-Id");
          location = resp.headers.get("Location");
          if (c.closed) {
            // Hung up while the offer was on its way: end the call the
            // server just set up, or it would wait for us.
            if (c.id && opts.abandon) opts.abandon(c.id);
            throw new Error("hung up");
          }
          pending.splice(0).forEach(trickle);
          return resp.text();
        })
        .then(function (sdp) {
          if (c.closed) throw new Error("hung up");
          return pc.setRemoteDescription({ type: "answer", sdp: sdp });
        })
        .then(function () { return c; });
    });
  }

  window.sbRTC = { connect: connect, audioStats: audioStats };
})();
