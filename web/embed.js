// Switchboard widget embed: <script src="https://HOST/widget.js" data-token="…" [data-to="support"]></script>
// adds a launcher button that opens the widget (/widget) in an iframe.
(function () {
  "use strict";
  var me = document.currentScript;
  if (!me) return;
  var base = new URL(me.src, location.href);
  var token = me.getAttribute("data-token") || "";
  var to = me.getAttribute("data-to") || "";
  var src = new URL("/widget", base);
  src.searchParams.set("token", token);
  if (to) src.searchParams.set("to", to);

  var btn = document.createElement("button");
  btn.type = "button";
  btn.id = "sb-launcher";
  btn.textContent = me.getAttribute("data-label") || "Chat with us";
  btn.setAttribute("aria-expanded", "false");
  btn.setAttribute("aria-controls", "sb-frame");
  btn.style.cssText = "position:fixed;right:16px;bottom:16px;z-index:2147483000;padding:12px 18px;border:0;" +
    "border-radius:24px;background:#1f5eff;color:#fff;font:600 15px system-ui,sans-serif;cursor:pointer;" +
    "box-shadow:0 4px 14px rgba(0,0,0,.25)";

  var frame = null;
  btn.addEventListener("click", function () {
    if (!frame) {
      frame = document.createElement("iframe");
      frame.id = "sb-frame";
      frame.title = "Support chat";
      frame.src = src.toString();
      // The widget needs the microphone for calls.
      frame.allow = "microphone; autoplay";
      frame.style.cssText = "position:fixed;right:16px;bottom:72px;z-index:2147483000;border:0;border-radius:12px;" +
        "width:min(380px,calc(100vw - 32px));height:min(600px,calc(100vh - 96px));background:#fff;" +
        "box-shadow:0 8px 30px rgba(0,0,0,.3)";
      document.body.appendChild(frame);
      btn.setAttribute("aria-expanded", "true");
      return;
    }
    var open = frame.style.display === "none";
    frame.style.display = open ? "" : "none";
    btn.setAttribute("aria-expanded", String(open));
  });
  function add() { document.body.appendChild(btn); }
  if (document.body) add(); else document.addEventListener("DOMContentLoaded", add);
})();
