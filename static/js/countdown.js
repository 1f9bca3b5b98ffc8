// Counts down to the element's data-until (ISO time) in the reader's own clock.
(function () {
  var box = document.querySelector(".countdown[data-until]");
  if (!box) return;
  var until = Date.parse(box.dataset.until), out = document.getElementById("countdown");
  function pad(n) { return n < 10 ? "0" + n : "" + n; }
  function tick() {
    var left = Math.max(0, Math.floor((until - Date.now()) / 1000));
    var d = Math.floor(left / 86400), h = Math.floor(left % 86400 / 3600);
    var m = Math.floor(left % 3600 / 60), s = left % 60;
    out.textContent = (d ? box.dataset.days.replace("%d", d) + " " : "") + pad(h) + ":" + pad(m) + ":" + pad(s);
    if (left === 0) { out.textContent = box.dataset.done; clearInterval(timer); window.location.reload(); }
  }
  var timer = setInterval(tick, 1000);
  tick();
})();
