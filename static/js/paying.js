// Waiting for WeChat Pay or Alipay: ask our own status URL (never the provider) every two
// seconds; paid, go on to the receipt; failed, load this page again: it sends the buyer
// back to checkout, saying why.
(function () {
  var box = document.getElementById("paying");
  if (!box) return;
  var out = document.getElementById("paying-status");
  var wait = 2000;
  function ask() {
    fetch(box.dataset.status, {headers: {"Accept": "application/json"}, cache: "no-store"})
      .then(function (response) { return response.json(); })
      .then(function (answer) {
        if (answer.status === "paid") { window.location.assign(box.dataset.done); return; }
        if (answer.status === "failed") {
          if (answer.message) out.textContent = answer.message;
          setTimeout(function () { window.location.reload(); }, 1500);
          return;
        }
        setTimeout(ask, wait);
      })
      .catch(function () { wait = Math.min(wait * 2, 15000); setTimeout(ask, wait); });
  }
  setTimeout(ask, wait);
})();
