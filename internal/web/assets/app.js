// quench incident page: progressive enhancement only. Every page works without this file;
// with it the incident's live part (state, steps, approvals, undo stack, timeline) follows
// the incident through Server-Sent Events, and the list's filters apply on change.
(function () {
  "use strict";

  function follow(box) {
    var url = box.getAttribute("data-live");
    if (!url || !window.EventSource) return;
    var es = new EventSource(url);
    var swap = function (ev) {
      // Keep a reason being typed when the approval it belongs to is still there.
      var typing = document.activeElement && box.contains(document.activeElement) &&
        document.activeElement.name === "reason" ? document.activeElement : null;
      var keep = typing ? { step: typing.form.querySelector("[name=step_id]").value, value: typing.value } : null;
      box.innerHTML = ev.data;
      box.setAttribute("data-updated", String(Date.now()));
      if (keep) {
        var again = box.querySelector(".reject-form [name=step_id][value='" + CSS.escape(keep.step) + "']");
        if (again) {
          var input = again.form.querySelector("[name=reason]");
          input.value = keep.value;
          input.focus();
        }
      }
      // The heading's badge follows the state too.
      var now = box.querySelector(".state-line .badge"), head = document.querySelector("h1 .badge");
      if (now && head) head.replaceWith(now.cloneNode(true));
      var hint = document.getElementById("signin-hint");
      if (hint && !box.querySelector(".approval")) hint.remove();
    };
    es.addEventListener("status", swap);
    es.addEventListener("closed", function (ev) { swap(ev); es.close(); box.setAttribute("data-closed", "1"); });
    es.onopen = function () { box.setAttribute("data-live-open", "1"); };
  }

  function filters(form) {
    Array.prototype.forEach.call(form.querySelectorAll("select"), function (s) {
      s.addEventListener("change", function () { form.submit(); });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var box = document.getElementById("live");
    if (box) follow(box);
    var f = document.getElementById("filters");
    if (f) filters(f);
  });
})();
