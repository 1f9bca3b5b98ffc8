// Paying inside WeChat's own browser (WeChat Pay's JSAPI flow): hand the signed parameters
// of this payment to WeixinJSBridge's getBrandWCPayRequest, once the bridge is ready; the
// button asks again. Whatever the answer, paying.js keeps asking our own status URL, which
// is what moves the page on (WeChat's "ok" is not proof of payment). In development, with no
// WeixinJSBridge, the stand-in's bridge page (devserver/wechatpay.py) plays it: the browser
// goes there and comes back here with err_msg.
(function () {
  var box = document.getElementById("wechat-jsapi");
  if (!box) return;
  var params = JSON.parse(box.dataset.params);
  var button = document.getElementById("wechat-jsapi-pay");
  var out = document.getElementById("wechat-jsapi-said");
  var said = new URLSearchParams(window.location.search).get("err_msg") || "";
  function tell(message) { if (message) out.textContent = message; }
  function answered(message) {
    if (/:cancel$/.test(message)) tell(box.dataset.cancelled);
    else if (/:fail$/.test(message)) tell(box.dataset.failed);
  }
  function invoke() {
    if (window.WeixinJSBridge) {
      window.WeixinJSBridge.invoke("getBrandWCPayRequest", params, function (res) {
        answered(res && res.err_msg ? String(res.err_msg) : "");
      });
      return;
    }
    if (box.dataset.bridge) {
      var back = window.location.href.split("?")[0];
      var query = new URLSearchParams(params);
      query.set("return", back);
      window.location.assign(box.dataset.bridge + "?" + query.toString());
    }
  }
  button.addEventListener("click", invoke);
  answered(said);
  if (said) return;  // back from the bridge: the buyer taps again if they want to
  if (window.WeixinJSBridge || box.dataset.bridge) invoke();
  else document.addEventListener("WeixinJSBridgeReady", invoke, false);
})();
