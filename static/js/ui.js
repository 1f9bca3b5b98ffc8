// Small behaviours of our pages, kept out of the HTML so the Content-Security-Policy can
// refuse every inline script: each is switched on by a data- attribute.
(function () {
  // <input data-select-on-focus>: the whole value is selected, ready to copy.
  document.addEventListener("focusin", function (event) {
    if (event.target.matches && event.target.matches("[data-select-on-focus]")) {
      event.target.select();
    }
  });

  // <nav data-keep-current-in-view>: on a phone the console's menu is one line that scrolls
  // sideways; the section open now is brought into it.
  document.addEventListener("DOMContentLoaded", function () {
    var menu = document.querySelector("[data-keep-current-in-view]");
    var current = menu && menu.querySelector("[aria-current=page]");
    if (current && menu.querySelector("ul").scrollWidth > menu.clientWidth) {
      var list = menu.querySelector("ul");
      list.scrollLeft = current.offsetLeft - (list.clientWidth - current.offsetWidth) / 2;
    }
  });

  // <select data-submit-on-change>: choosing an option submits its form.
  document.addEventListener("change", function (event) {
    var select = event.target;
    if (select.matches && select.matches("[data-submit-on-change]") && select.form) {
      select.form.requestSubmit ? select.form.requestSubmit() : select.form.submit();
    }
  });

  // <form data-reset-after-send>: after htmx sent it successfully, it is emptied and its
  // `submission` field gets a new value (so a second reply is not taken for a double click).
  // htmx:after:request, spelled with "-" as base.html's htmx-config (metaCharacter) asks.
  document.addEventListener("htmx-after-request", function (event) {
    var form = event.target;
    if (!form.matches || !form.matches("form[data-reset-after-send]")) return;
    var ctx = event.detail && event.detail.ctx;
    if (!ctx || !ctx.response || ctx.response.status >= 300) return;
    form.reset();
    var submission = form.querySelector("[name=submission]");
    if (submission) submission.value = crypto.randomUUID();
  });
})();
