// Feed audio players: speed buttons, and resume where the reader left off (per audio URL).
(function () {
  "use strict";
  function setUp(box) {
    if (box.dataset.ready) return;
    box.dataset.ready = "1";
    var audio = box.querySelector("audio");
    var key = "shuyuan:audio:" + audio.dataset.resumeKey;
    var saved = parseFloat(localStorage.getItem(key) || "0");
    if (saved > 0) {
      audio.addEventListener("loadedmetadata", function () {
        if (saved < audio.duration - 1) audio.currentTime = saved;
      }, { once: true });
    }
    var last = 0;
    audio.addEventListener("timeupdate", function () {
      if (Math.abs(audio.currentTime - last) < 2) return;
      last = audio.currentTime;
      localStorage.setItem(key, String(audio.currentTime));
    });
    audio.addEventListener("ended", function () { localStorage.removeItem(key); });
    box.querySelectorAll("button.speed").forEach(function (button) {
      button.addEventListener("click", function () {
        audio.playbackRate = parseFloat(button.dataset.rate);
        box.querySelectorAll("button.speed").forEach(function (other) {
          other.setAttribute("aria-pressed", other === button ? "true" : "false");
        });
      });
    });
  }
  function setUpAll() { document.querySelectorAll("[data-player]").forEach(setUp); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setUpAll);
  else setUpAll();
  document.addEventListener("htmx-after-swap", setUpAll); // metaCharacter "-": base.html
})();
