// hdn web UI: progressive enhancement only; every page works without it.
// No inline scripts: the Content-Security-Policy forbids them.
(function () {
  "use strict";

  function tlpLabel(tlp) {
    var s = document.createElement("span");
    var t = String(tlp || "").toLowerCase();
    var cls = { clear: "tlp-clear", white: "tlp-clear", green: "tlp-green", amber: "tlp-amber", "amber+strict": "tlp-amber-strict", red: "tlp-red" }[t] || "tlp-unknown";
    s.className = "tlp " + cls;
    s.textContent = "TLP:" + t.toUpperCase();
    return s;
  }

  function liveList() {
    var ul = document.getElementById("live-indicators");
    if (!ul || typeof EventSource === "undefined") { return; }
    var cursor = ul.getAttribute("data-cursor") || "0";
    var es = new EventSource("/ui/stream?cursor=" + encodeURIComponent(cursor));

    function find(id) {
      var items = ul.querySelectorAll("li[data-id]");
      for (var i = 0; i < items.length; i++) {
        if (items[i].getAttribute("data-id") === id) { return items[i]; }
      }
      return null;
    }
    function remove(id) {
      var li = id && find(id);
      if (li) { li.parentNode.removeChild(li); }
    }
    function upsert(ind) {
      if (!ind || !ind.id) { return; }
      remove(ind.id);
      if (ind.revoked || ind.expired || ind.quarantined) { return; }
      var li = document.createElement("li");
      li.setAttribute("data-id", ind.id);
      li.setAttribute("data-value", ind.value);
      li.className = "new";
      li.appendChild(tlpLabel(ind.tlp));
      li.appendChild(document.createTextNode(" "));
      var ty = document.createElement("span");
      ty.className = "type";
      ty.textContent = ind.type;
      li.appendChild(ty);
      li.appendChild(document.createTextNode(" "));
      var a = document.createElement("a");
      a.href = "/ui/indicators/" + encodeURIComponent(ind.id);
      a.textContent = ind.value;
      li.appendChild(a);
      li.appendChild(document.createTextNode(" "));
      var src = document.createElement("span");
      src.className = "source";
      src.textContent = ind.source;
      li.appendChild(src);
      ul.insertBefore(li, ul.firstChild);
      while (ul.children.length > 200) { ul.removeChild(ul.lastChild); }
      var empty = document.getElementById("live-empty");
      if (empty) { empty.parentNode.removeChild(empty); }
    }
    function parse(e) {
      try { return JSON.parse(e.data); } catch (err) { return null; }
    }
    ["created", "updated"].forEach(function (kind) {
      es.addEventListener(kind, function (e) { var ev = parse(e); if (ev) { upsert(ev.indicator); } });
    });
    ["revoked", "expired", "removed"].forEach(function (kind) {
      es.addEventListener(kind, function (e) {
        var ev = parse(e);
        if (ev) { remove(ev.id || (ev.indicator && ev.indicator.id)); }
      });
    });
    es.addEventListener("reset", function () { es.close(); window.location.reload(); });
  }

  // Uploads with a progress bar: the file goes by XHR and the answer page
  // replaces this one.
  function uploadProgress() {
    var form = document.getElementById("upload-form");
    var bar = document.getElementById("upload-progress");
    if (!form || !bar || typeof FormData === "undefined") { return; }
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var status = document.getElementById("upload-status");
      var state = document.getElementById("upload-state");
      var button = document.getElementById("upload");
      if (status) { status.hidden = false; }
      if (button) { button.disabled = true; }
      var xhr = new XMLHttpRequest();
      xhr.open("POST", form.action);
      var token = form.querySelector("input[name=csrf]");
      if (token) { xhr.setRequestHeader("X-CSRF-Token", token.value); }
      xhr.upload.addEventListener("progress", function (ev) {
        if (ev.lengthComputable) {
          bar.value = Math.round(ev.loaded * 100 / ev.total);
          if (ev.loaded >= ev.total && state) { state.textContent = "Processing… large files take a while."; bar.removeAttribute("value"); }
        }
      });
      xhr.addEventListener("load", function () {
        document.open();
        document.write(xhr.responseText);
        document.close();
      });
      xhr.addEventListener("error", function () {
        if (state) { state.textContent = "The upload failed; try again."; }
        if (button) { button.disabled = false; }
      });
      xhr.send(new FormData(form));
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    liveList();
    uploadProgress();
  });
})();
