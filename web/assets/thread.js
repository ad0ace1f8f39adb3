// Switchboard pages' shared pieces of a conversation thread: the bubble an
// entry is drawn as, and which call statuses are final.
(function () {
  "use strict";

  // bubble is one entry: its text, and a small meta line under it.
  function bubble(cls, text, meta) {
    var d = document.createElement("div");
    d.className = "entry " + cls;
    d.textContent = text;
    if (meta) {
      var m = document.createElement("span");
      m.className = "meta";
      m.textContent = meta;
      d.appendChild(m);
    }
    return d;
  }

  window.sbThread = {
    bubble: bubble,
    // done: the final call statuses (the call is over).
    done: { completed: 1, busy: 1, "no-answer": 1, failed: 1, canceled: 1 }
  };
})();
