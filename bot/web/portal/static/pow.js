/* Proof of work for the portal's code and start forms: find n so that SHA-256(challenge ":" n) starts with
   the required number of zero bits, then send the form. Without JavaScript the form is sent as it is. */
(function () {
  "use strict";
  function zeroBits(bytes) {
    var bits = 0;
    for (var i = 0; i < bytes.length; i++) {
      if (bytes[i] === 0) { bits += 8; continue; }
      var b = bytes[i];
      while ((b & 0x80) === 0) { bits += 1; b <<= 1; }
      return bits;
    }
    return bits;
  }
  async function solve(challenge, bits) {
    var encoder = new TextEncoder();
    for (var n = 0; ; n++) {
      var digest = await crypto.subtle.digest("SHA-256", encoder.encode(challenge + ":" + n));
      if (zeroBits(new Uint8Array(digest)) >= bits) { return String(n); }
    }
  }
  var forms = document.querySelectorAll("form[data-pow]");
  Array.prototype.forEach.call(forms, function (form) {
    form.addEventListener("submit", function (event) {
      if (form.getAttribute("data-solved") === "1" || !(window.crypto && window.crypto.subtle)) { return; }
      event.preventDefault();
      var status = form.querySelector("[data-pow-status]");
      if (status) { status.hidden = false; }
      var button = form.querySelector("button[type=submit]");
      if (button) { button.disabled = true; }
      solve(form.elements.pow_challenge.value, parseInt(form.getAttribute("data-pow"), 10)).then(function (answer) {
        form.elements.pow_answer.value = answer;
        form.setAttribute("data-solved", "1");
        form.submit();
      });
    });
  });
})();
