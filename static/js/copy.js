// Copy buttons: a button with data-copy="<selector>" copies that field's value to the clipboard
// and says so (data-copied) for two seconds. Without the Clipboard API (an old browser, a page
// not served over HTTPS), the field's text is selected for the reader to copy by hand.
(function () {
  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    var label = button.textContent;
    button.addEventListener("click", function () {
      var field = document.querySelector(button.dataset.copy);
      if (!field) return;
      function done() {
        button.textContent = button.dataset.copied || label;
        setTimeout(function () { button.textContent = label; }, 2000);
      }
      field.select();
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(field.value).then(done, function () {});
      } else {
        try { if (document.execCommand("copy")) done(); } catch (e) { /* selected: copy by hand */ }
      }
    });
  });
})();
