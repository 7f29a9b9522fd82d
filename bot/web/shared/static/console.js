// Live preview for the content editor: sends the form to the preview endpoint and shows the answer.
// No inline scripts (the CSP forbids them); the CSRF token travels in a header.
(function () {
  "use strict";
  var form = document.querySelector("form[data-preview-url]");
  if (!form) { return; }
  var url = form.getAttribute("data-preview-url");
  var tokenField = form.querySelector("input[name=csrf_token]");
  var timer = null;
  var inFlight = null;

  function refresh() {
    var target = document.getElementById("preview");
    if (!target) { return; }
    if (inFlight) { inFlight.abort(); }
    inFlight = new AbortController();
    fetch(url, {
      method: "POST",
      body: new URLSearchParams(new FormData(form)),
      headers: { "X-CSRF-Token": tokenField ? tokenField.value : "" },
      credentials: "same-origin",
      signal: inFlight.signal
    }).then(function (response) {
      if (!response.ok) { throw new Error("preview " + response.status); }
      return response.text();
    }).then(function (html) {
      var parsed = new DOMParser().parseFromString(html, "text/html");
      var fresh = parsed.getElementById("preview");
      if (fresh) { target.replaceWith(document.importNode(fresh, true)); }
    }).catch(function () { /* keep the last preview */ });
  }

  function schedule() {
    if (timer) { clearTimeout(timer); }
    timer = setTimeout(refresh, 300);
  }

  form.addEventListener("input", schedule);
  form.addEventListener("change", schedule);
})();
