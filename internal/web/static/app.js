// ferry's web panel works without JavaScript; this file only adds live
// updates where a page asks for them. A move page's progress section names
// its event stream in data-events; each "progress" event (JSON) redraws
// the section, and when the phase or its status changes the page reloads
// to show the new reports and steps.
"use strict";

(function () {
  var box = document.getElementById("progress");
  if (!box || !box.dataset.events || !window.EventSource) {
    return;
  }
  var phase = box.dataset.phase, status = box.dataset.status;
  var field = function (name) { return box.querySelector('[data-field="' + name + '"]'); };

  // stateClass mirrors the server's colours for task and move states.
  var stateClass = function (s) {
    switch (s) {
      case "done": case "succeeded": return "ok";
      case "failed": return "bad";
      default: return "wait";
    }
  };
  var text = function (tag, s, cls) {
    var el = document.createElement(tag);
    el.textContent = s;
    if (cls) { el.className = cls; }
    return el;
  };

  var draw = function (p) {
    field("phase").textContent = p.phase;
    var st = field("status");
    st.textContent = p.status;
    st.className = "state " + stateClass(p.status);
    field("waiting").textContent = p.waiting || "";
    var err = field("error");
    err.textContent = p.error || "";
    err.hidden = !p.error;
    var list = field("tasks");
    list.replaceChildren();
    (p.tasks || []).forEach(function (t) {
      var li = document.createElement("li");
      li.append(text("strong", t.name), " on " + t.host + ": ", text("span", t.state, "state " + stateClass(t.state)));
      if (t.detail) { li.append(" · " + t.detail); }
      if (t.percent) {
        var bar = document.createElement("progress");
        bar.max = 100;
        bar.value = t.percent;
        bar.textContent = t.percent + " %";
        li.append(" ", bar);
      }
      if (t.error) { li.append(" ", text("span", t.error, "message")); }
      list.append(li);
    });
  };

  var source = new EventSource(box.dataset.events);
  source.addEventListener("progress", function (ev) {
    var p;
    try { p = JSON.parse(ev.data); } catch (e) { return; }
    if (p.phase !== phase || p.status !== status) {
      source.close();
      window.location.reload();
      return;
    }
    draw(p);
  });
})();
