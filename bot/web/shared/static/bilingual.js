// Dutch/English editors: "English missing" shows under an English field while it is empty and its Dutch is
// written. Nothing is copied: an empty English text is sent in Dutch.
(function () {
  "use strict";
  var fields = document.querySelectorAll("[data-english-of]");
  Array.prototype.forEach.call(fields, function (english) {
    var dutch = document.getElementById(english.getAttribute("data-english-of"));
    var note = document.querySelector("[data-missing-for='" + english.id + "']");
    if (!dutch || !note) { return; }
    function update() { note.hidden = english.value.trim() !== "" || dutch.value.trim() === ""; }
    english.addEventListener("input", update);
    dutch.addEventListener("input", update);
  });
})();
