// Card checkout: Stripe.js turns the card into a PaymentMethod, the server charges it, and a
// 3-D Secure challenge comes back here for the browser to complete.
(function () {
  // The address book: choosing a saved address fills the address fields ("a new address"
  // empties them).
  var saved = document.getElementById("saved-address");
  if (saved) saved.addEventListener("change", function () {
    var chosen = saved.options[saved.selectedIndex].dataset;
    ["name", "phone", "province", "city", "district", "address"].forEach(function (part) {
      var input = document.querySelector('[name="shipping.' + part + '"]');
      if (input) input.value = chosen[part] || "";
    });
  });
  var form = document.getElementById("checkout");
  if (!form || typeof Stripe === "undefined") return;
  var stripe = Stripe(form.dataset.key);
  var card = stripe.elements().create("card");
  card.mount("#card-element");
  var message = document.getElementById("payment-message");
  var button = document.getElementById("pay-button");

  function fail(text) { message.textContent = text; button.disabled = false; }

  // Errors come in the API's shape, {"error": {"code", "message", "field"}}; the field named
  // (shipping.phone...) is marked on the form.
  function refused(answer) {
    var error = answer.error || {};
    form.querySelectorAll("[aria-invalid]").forEach(function (input) { input.removeAttribute("aria-invalid"); });
    var input = error.field ? form.querySelector('[name="' + error.field + '"]') : null;
    var label = input && input.closest("label") ? input.closest("label").querySelector("span") : null;
    if (input) { input.setAttribute("aria-invalid", "true"); input.focus(); }
    // "手机号码：必须是……": the field's own label before the reason.
    var text = label ? label.textContent + (document.documentElement.lang.indexOf("zh") === 0 ? "：" : ": ") + error.message : error.message;
    return {status: "error", message: text};
  }

  function post(paymentMethod) {
    var body = new URLSearchParams(new FormData(form));
    body.set("payment_method", paymentMethod);
    return fetch(form.action, {method: "POST", body: body, headers: {"Accept": "application/json"}})
      .then(function (response) {
        return response.json().then(function (answer) { return response.ok ? answer : refused(answer); });
      });
  }

  function settle() {
    return fetch(form.dataset.status, {headers: {"Accept": "application/json"}})
      .then(function (response) { return response.json(); });
  }

  function follow(answer) {
    if (answer.status === "paid") { window.location.assign(answer.redirect); return; }
    if (answer.status === "requires_action") {
      return stripe.confirmCardPayment(answer.client_secret).then(function (result) {
        if (result.error) { fail(result.error.message || "3-D Secure failed."); return; }
        return settle().then(follow);
      });
    }
    if (answer.status === "pending") { setTimeout(function () { settle().then(follow); }, 1500); return; }
    fail(answer.message || "The payment failed.");
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    button.disabled = true;
    message.textContent = "";
    stripe.createPaymentMethod({type: "card", card: card}).then(function (result) {
      if (result.error) { fail(result.error.message || "Check the card details."); return; }
      return post(result.paymentMethod.id).then(follow);
    }).catch(function () { fail("Network error; please try again."); });
  });
})();
