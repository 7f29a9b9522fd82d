/* The portal's small helpers, all optional (every page works without JavaScript): copy, save or print the
   receipt code, and switch on the push notice. Nothing is sent anywhere except the push subscription, to this
   service, when the employee asks for it. */
(function () {
  "use strict";
  function show(el) { if (el) { el.hidden = false; } }

  var codeBox = document.querySelector("[data-code-actions]");
  var receipt = document.getElementById("receipt-code");
  if (codeBox && receipt) {
    var code = receipt.getAttribute("data-code");
    var copy = codeBox.querySelector("[data-copy-code]");
    var save = codeBox.querySelector("[data-save-code]");
    var print = codeBox.querySelector("[data-print]");
    var copied = codeBox.querySelector("[data-copied]");
    if (navigator.clipboard && window.isSecureContext) {
      show(copy);
      copy.addEventListener("click", function () {
        navigator.clipboard.writeText(code).then(function () { show(copied); });
      });
    }
    show(save);
    save.addEventListener("click", function () {
      var text = codeBox.getAttribute("data-file-text") + "\n\n" + code + "\n";
      var link = document.createElement("a");
      link.href = URL.createObjectURL(new Blob([text], {type: "text/plain"}));
      link.download = codeBox.getAttribute("data-file-name");
      link.click();  // not added to the page: nothing for a screen reader to trip over
      setTimeout(function () { URL.revokeObjectURL(link.href); }, 1000);
    });
    show(print);
    print.addEventListener("click", function () { window.print(); });
  }

  function keyBytes(base64url) {
    var padded = (base64url + "===".slice((base64url.length + 3) % 4)).replace(/-/g, "+").replace(/_/g, "/");
    var raw = atob(padded);
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) { bytes[i] = raw.charCodeAt(i); }
    return bytes;
  }

  var push = document.querySelector("[data-push]");
  if (push && "serviceWorker" in navigator && "PushManager" in window && window.isSecureContext) {
    var on = push.querySelector("[data-push-on]");
    var failed = push.querySelector("[data-push-failed]");
    push.querySelector("[data-push-unsupported]").hidden = true;
    show(on);
    on.addEventListener("click", function () {
      on.disabled = true;
      navigator.serviceWorker.register(push.getAttribute("data-worker")).then(function (registration) {
        return Notification.requestPermission().then(function (permission) {
          if (permission !== "granted") { throw new Error("denied"); }
          return registration.pushManager.subscribe({
            userVisibleOnly: true, applicationServerKey: keyBytes(push.getAttribute("data-key"))
          });
        });
      }).then(function (subscription) {
        return fetch(push.getAttribute("data-save"), {
          method: "POST", credentials: "same-origin",
          headers: {"Content-Type": "application/json", "X-CSRF-Token": push.getAttribute("data-token")},
          body: JSON.stringify(subscription.toJSON())
        });
      }).then(function (response) {
        if (!response.ok) { throw new Error("refused"); }
        window.location.assign(push.getAttribute("data-done"));
      }).catch(function () { show(failed); on.disabled = false; });
    });
  }
})();
