// Counts down to each .countdown's data-until (ISO time) in the reader's own clock, into its
// [data-countdown] element; at zero it says data-done and reloads the page.
(function () {
  var boxes = document.querySelectorAll(".countdown[data-until]");
  function pad(n) { return n < 10 ? "0" + n : "" + n; }
  boxes.forEach(function (box) {
    var until = Date.parse(box.dataset.until), out = box.querySelector("[data-countdown]");
    if (!out || isNaN(until)) return;
    var timer;
    function tick() {
      var left = Math.max(0, Math.floor((until - Date.now()) / 1000));
      var d = Math.floor(left / 86400), h = Math.floor(left % 86400 / 3600);
      var m = Math.floor(left % 3600 / 60), s = left % 60;
      out.textContent = (d ? box.dataset.days.replace("%d", d) + " " : "") + pad(h) + ":" + pad(m) + ":" + pad(s);
      if (left === 0) { out.textContent = box.dataset.done; clearInterval(timer); window.location.reload(); }
    }
    timer = setInterval(tick, 1000);
    tick();
  });
})();
