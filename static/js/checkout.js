// Checkout. A card: Stripe.js turns it into a PaymentMethod, the server charges it, and a 3-D
// Secure challenge comes back here for the browser to complete. WeChat Pay or Alipay: the
// server answers where to go (our page with the QR code, or Alipay's page).
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
  if (!form) return;
  var cardField = document.getElementById("card-field");
  var stripe = null, card = null;
  if (cardField && typeof Stripe !== "undefined") {
    stripe = Stripe(form.dataset.key);
    card = stripe.elements().create("card");
    card.mount("#card-element");
  }
  var message = document.getElementById("payment-message");
  var button = document.getElementById("pay-button");

  function method() {
    var chosen = form.querySelector('input[name="method"]:checked');
    return chosen ? chosen.value : "card";
  }
  // The card's field only while a card is chosen.
  // The cross-border notice (a provider abroad): shown and its box required only for the
  // methods it names.
  var abroad = document.getElementById("cross-border");
  var abroadBox = document.getElementById("cross-border-box");
  function showCard() {
    if (cardField) cardField.hidden = method() !== "card";
    if (abroad) {
      var asked = abroad.dataset.methods.split(" ").indexOf(method()) !== -1;
      abroad.hidden = !asked;
      abroadBox.required = asked;
    }
  }
  form.querySelectorAll('input[name="method"]').forEach(function (radio) {
    radio.addEventListener("change", showCard);
  });
  showCard();

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
    if (paymentMethod) body.set("payment_method", paymentMethod);
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
    if (answer.status === "paid" || answer.status === "redirect") { window.location.assign(answer.redirect); return; }
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
    if (method() !== "card") {
      post(null).then(follow).catch(function () { fail("Network error; please try again."); });
      return;
    }
    if (!stripe) { fail("The card form did not load; reload the page."); return; }
    stripe.createPaymentMethod({type: "card", card: card}).then(function (result) {
      if (result.error) { fail(result.error.message || "Check the card details."); return; }
      return post(result.paymentMethod.id).then(follow);
    }).catch(function () { fail("Network error; please try again."); });
  });
})();
