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

// An order's items table names its state feed in data-poll: while the page
// is open, the items' states and messages are fetched and redrawn in place
// (pending-insert → active, or a soft-error with its message), and each
// row's buttons show only in the states that allow them (data-states).
(function () {
  var table = document.getElementById("items");
  if (!table || !table.dataset.poll || !window.fetch) {
    return;
  }
  var pending = function (s) { return s.indexOf("pending-") === 0; };
  var busy = function () {
    return Array.prototype.some.call(table.querySelectorAll('[data-field="state"]'), function (el) {
      return pending(el.textContent);
    });
  };
  var draw = function (items) {
    items.forEach(function (it) {
      var row = table.querySelector('tr[data-item="' + it.id + '"]');
      if (!row) { return; }
      var st = row.querySelector('[data-field="state"]');
      st.textContent = it.state;
      st.className = "state " + it["class"];
      var msg = row.querySelector('[data-field="message"]');
      msg.textContent = it.message || "";
      msg.hidden = !it.message;
      row.querySelectorAll("[data-states]").forEach(function (el) {
        el.hidden = el.dataset.states.split(" ").indexOf(it.state) < 0;
      });
    });
  };
  var poll = function () {
    fetch(table.dataset.poll, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (items) { draw(items); schedule(); })
      .catch(function () { schedule(10000); });
  };
  var schedule = function (ms) {
    window.setTimeout(poll, ms || (busy() ? 1500 : 10000));
  };
  schedule();
})();
