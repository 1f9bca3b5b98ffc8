// Inside WeChat's browser (which ignores OpenGraph), sets this page's share card: its title,
// description, link and picture, through WeChat's JS-SDK with the wx.config the server signed
// (templates/_wechat_share.html). The vendored SDK is npm's weixin-js-sdk, a CommonJS module:
// it hands its `wx` to `module.exports` and sets no global, so a `module` is lent to it while
// it loads, and taken back once it has run.
(function () {
  var box = document.getElementById("wechat-share");
  if (!box) return;
  var data = box.dataset;
  var had = Object.prototype.hasOwnProperty.call(window, "module");
  var before = window.module;
  var lent = { exports: {} };
  function giveBack() {
    if (had) window.module = before;
    else delete window.module;
  }
  function configure(wx) {
    wx.config({
      debug: false,
      appId: data.appId,
      timestamp: Number(data.timestamp),
      nonceStr: data.nonceStr,
      signature: data.signature,
      jsApiList: ["updateAppMessageShareData", "updateTimelineShareData"]
    });
    wx.ready(function () {
      // To a friend or a group: the card shows the description; Moments shows none.
      wx.updateAppMessageShareData({
        title: data.title, desc: data.desc, link: data.link, imgUrl: data.imgUrl
      });
      wx.updateTimelineShareData({ title: data.title, link: data.link, imgUrl: data.imgUrl });
    });
  }
  var script = document.createElement("script");
  script.src = data.sdk;
  script.onload = function () {
    giveBack();
    var wx = lent.exports;
    if (wx && typeof wx.config === "function") configure(wx);
  };
  script.onerror = giveBack;
  window.module = lent;
  document.head.appendChild(script);
})();
