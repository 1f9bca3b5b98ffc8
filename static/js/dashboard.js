// The console's numbers drawn with Apache ECharts (static/vendor): the dashboard's days, a
// sale's opening minute by minute, and a sale's live state kept up to date over server-sent
// events. The numbers come from <script type="application/json"> blocks and every word from
// #chart-labels, both written (and translated) by the server; each chart is a
// [data-chart] box whose figure stays hidden until it is drawn, so a page without JavaScript
// shows its tables instead. Tooltips are drawn on the canvas (renderMode "richText"): ECharts'
// HTML tooltip writes style attributes, which the Content-Security-Policy refuses.
(function () {
  "use strict";
  var lang = document.documentElement.lang || "zh-CN";
  var chinese = lang.indexOf("zh") === 0;
  var clock = new Intl.DateTimeFormat(chinese ? "zh-CN" : "en-GB", {
    timeZone: "Asia/Shanghai", hour: "2-digit", minute: "2-digit", hourCycle: "h23"
  });
  var seconds = new Intl.DateTimeFormat(chinese ? "zh-CN" : "en-GB", {
    timeZone: "Asia/Shanghai", hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23"
  });
  var drawn = [];

  function json(id) {
    var block = document.getElementById(id);
    return block ? JSON.parse(block.textContent) : null;
  }
  function words(text) { return (text || "").split(" ").filter(Boolean); }
  function minute(iso) { return clock.format(new Date(iso)); }
  function sum(values) { return values.reduce(function (a, b) { return a + b; }, 0); }
  function yuan(value) { return "¥" + value.toFixed(2); }

  // The colours are the stylesheet's (--chart-1 ... on .chart), so the page's palette is
  // written once, in site.css.
  function palette(box) {
    var style = getComputedStyle(box), colours = [];
    for (var n = 1; n <= 6; n++) {
      var colour = style.getPropertyValue("--chart-" + n).trim();
      if (colour) colours.push(colour);
    }
    return colours;
  }

  // ECharts wraps a legend onto more rows in a narrow box but does not move the plot down
  // for them: the rows are counted here (the names measured as the canvas draws them), and
  // the plot starts below the last.
  var ruler = document.createElement("canvas").getContext("2d");
  var LEGEND = { itemWidth: 18, itemHeight: 10, itemGap: 10, fontSize: 12, row: 22 };
  function legendRows(names, width, font) {
    ruler.font = LEGEND.fontSize + "px " + font;
    var rows = 1, x = 0;
    names.forEach(function (name) {
      var item = LEGEND.itemWidth + 5 + ruler.measureText(name).width;
      if (x > 0 && x + item > width) { rows += 1; x = 0; }
      x += item + LEGEND.itemGap;
    });
    return rows;
  }

  function draw(box, option) {
    var figure = box.closest("figure");
    if (figure) figure.hidden = false;
    var style = getComputedStyle(box);
    var ink = style.getPropertyValue("--chart-ink").trim();
    var chart = echarts.init(box, null, { locale: chinese ? "ZH" : "EN" });
    // ECharts marks its box with an attribute HTML does not have (the Nu checker refuses it);
    // it reads it back only to find a chart by its element, which this page never does.
    box.removeAttribute("_echarts_instance_");
    var names = (option.series || []).map(function (series) { return series.name; });
    var withLegend = !(option.legend && option.legend.show === false) && names.length > 1;
    function top() {
      return withLegend ? legendRows(names, box.clientWidth - 10, style.fontFamily) * LEGEND.row + 14 : 12;
    }
    var base = {
      color: palette(box),
      animationDuration: 300,
      animationDurationUpdate: 300,
      textStyle: { fontFamily: style.fontFamily, color: ink },
      tooltip: { trigger: "axis", renderMode: "richText", confine: true },
      legend: {
        show: withLegend, top: 0, left: 0, padding: [0, 5], itemWidth: LEGEND.itemWidth,
        itemHeight: LEGEND.itemHeight, itemGap: LEGEND.itemGap,
        textStyle: { fontSize: LEGEND.fontSize, color: ink }
      },
      grid: { left: 4, right: 12, top: top(), bottom: 4, containLabel: true }
    };
    Object.keys(option).forEach(function (key) {
      if (key === "grid") Object.keys(option.grid).forEach(function (k) { base.grid[k] = option.grid[k]; });
      else if (key !== "legend") base[key] = option[key];
    });
    chart.setOption(base);
    drawn.push(chart);
    if (window.ResizeObserver) {
      new ResizeObserver(function () {
        chart.setOption({ grid: { top: top() } }); // a narrower box may take more legend rows
        chart.resize();
      }).observe(box);
    }
    return chart;
  }

  // With the charts drawn, the table they were drawn from is folded away (it stays, for
  // screen readers and for exact numbers).
  function foldTables() {
    document.querySelectorAll("details[data-closed-when-drawn]").forEach(function (details) {
      details.open = false;
    });
  }

  // The dashboard: [data-chart=line|bar] draws data-numbers over the days (data-previous:
  // those drawn again, dashed, for the period before; data-money: fen shown as yuan);
  // [data-chart=expiry] the memberships by month of expiry.
  function dayChart(box, data, labels) {
    var money = box.hasAttribute("data-money");
    var kind = box.dataset.chart;
    var names = words(box.dataset.numbers);
    var colours = palette(box);
    function scaled(values) { return values.map(function (v) { return money ? v / 100 : v; }); }
    var series = names.map(function (name, n) {
      return {
        name: labels.numbers[name], type: kind, data: scaled(data.series[name]),
        showSymbol: false, itemStyle: { color: colours[n % colours.length] },
        lineStyle: { width: 2, color: colours[n % colours.length] },
        barMaxWidth: 18
      };
    });
    words(box.dataset.previous).forEach(function (name) {
      var colour = colours[names.indexOf(name) % colours.length];
      series.push({
        name: labels.before.replace("%(name)s", labels.numbers[name]), type: "line",
        data: scaled(data.previous[name]), showSymbol: false, z: 1,
        itemStyle: { color: colour, opacity: 0.6 },
        lineStyle: { width: 1.5, type: "dashed", color: colour, opacity: 0.6 }
      });
    });
    return draw(box, {
      tooltip: {
        trigger: "axis", renderMode: "richText", confine: true,
        valueFormatter: money ? yuan : undefined
      },
      xAxis: {
        type: "category", data: data.days, boundaryGap: kind === "bar",
        axisLabel: { formatter: function (day) { return day.slice(5); }, hideOverlap: true }
      },
      yAxis: {
        type: "value", minInterval: money ? 0 : 1,
        axisLabel: money ? { formatter: "¥{value}" } : {}
      },
      series: series
    });
  }

  function expiryChart(box, data, labels) {
    var months = data.expiry_months;
    return draw(box, {
      legend: { show: false },
      xAxis: {
        type: "category", data: months.map(function (m) { return m.month; }),
        axisLabel: { hideOverlap: true }
      },
      yAxis: { type: "value", minInterval: 1 },
      series: [{
        name: labels.expiring, type: "bar", barMaxWidth: 24,
        data: months.map(function (m) { return m.members; })
      }]
    });
  }

  function dashboard() {
    var data = json("chart-data"), labels = json("chart-labels");
    if (!data || !labels) return;
    document.querySelectorAll("[data-chart=line], [data-chart=bar]").forEach(function (box) {
      dayChart(box, data, labels);
    });
    document.querySelectorAll("[data-chart=expiry]").forEach(function (box) {
      expiryChart(box, data, labels);
    });
  }

  // A sale's opening: viewed, held and paid per minute, a line at the opening minute, and
  // the hour after it shown first (the slider reaches the rest).
  function funnelChart(box, funnel, labels) {
    var style = getComputedStyle(box), ink = style.getPropertyValue("--chart-ink").trim();
    var opening = Math.floor(Date.parse(funnel.opens_at) / 60000) * 60000;
    var at = funnel.minutes.map(function (m) { return minute(m.at); });
    var openingIndex = funnel.minutes.findIndex(function (m) { return Date.parse(m.at) === opening; });
    function line(key) {
      return {
        name: labels[key], type: "line", showSymbol: false,
        data: funnel.minutes.map(function (m) { return m[key]; })
      };
    }
    var series = [line("viewed"), line("held"), line("paid")];
    if (openingIndex >= 0) {
      series[0].markLine = {
        symbol: "none", silent: true, animation: false,
        lineStyle: { type: "solid", width: 1.5, color: ink },
        label: { formatter: labels.opening, position: "end", color: ink },
        data: [{ xAxis: at[openingIndex] }]
      };
    }
    var first = Math.max(0, openingIndex - 15);
    var last = Math.min(at.length - 1, first + 75);
    return draw(box, {
      grid: { bottom: 44 },
      xAxis: { type: "category", data: at, boundaryGap: false, axisLabel: { hideOverlap: true } },
      yAxis: { type: "value", minInterval: 1 },
      dataZoom: [
        { type: "inside", startValue: first, endValue: last },
        {
          type: "slider", height: 20, bottom: 8, startValue: first, endValue: last,
          borderColor: style.getPropertyValue("--chart-line").trim(),
          fillerColor: style.getPropertyValue("--chart-zoom").trim(),
          handleStyle: { color: ink, borderColor: ink },
          moveHandleStyle: { color: ink },
          textStyle: { color: ink }
        }
      ],
      series: series
    });
  }

  // The live panel: its numbers, its chart of the last minutes and their table, redrawn from
  // each "state" the stream sends; the stream is closed while the page is hidden and when it
  // is left, and opened again when it is shown.
  function livePanel(panel, state, funnel, labels) {
    var box = panel.querySelector("[data-chart=paid]");
    var status = panel.querySelector("[data-live-status]");
    var chart = box && window.echarts && draw(box, {
      legend: { show: false },
      xAxis: { type: "category", data: [], axisLabel: { hideOverlap: true } },
      yAxis: { type: "value", minInterval: 1 },
      series: [{ name: labels.paid, type: "bar", barMaxWidth: 22, data: [] }]
    });
    var opensAt = Date.parse(funnel.opens_at);

    function put(name, text) {
      var place = panel.querySelector("[data-live=" + name + "]");
      if (place) place.textContent = text;
    }
    function show(state) {
      var paid = state.paid_per_minute;
      put("left", state.left.toLocaleString(lang));
      put("holds", state.holds.toLocaleString(lang));
      put("paid", sum(paid.map(function (m) { return m.paid; })).toLocaleString(lang));
      put("phase", state.opened ? labels.open
        : Date.parse(state.at) < opensAt ? labels.not_open_yet : labels.over);
      put("at", labels.as_of.replace("%(time)s", seconds.format(new Date(state.at))));
      if (chart) {
        chart.setOption({
          xAxis: { data: paid.map(function (m) { return minute(m.at); }) },
          series: [{ data: paid.map(function (m) { return m.paid; }) }]
        });
      }
      var rows = panel.querySelector("[data-live=minutes]");
      if (rows) {
        rows.replaceChildren.apply(rows, paid.map(function (m) {
          var row = document.createElement("tr"), head = document.createElement("th");
          var cell = document.createElement("td");
          head.scope = "row";
          head.textContent = minute(m.at);
          cell.textContent = m.paid;
          row.append(head, cell);
          return row;
        }));
      }
    }
    show(state);

    var url = panel.dataset.liveUrl, source = null;
    if (!url || !window.EventSource) return;
    // The status is a live region: it is read out when it changes, so it changes only when
    // the connection does.
    function say(text) { if (status && status.textContent !== text) status.textContent = text; }
    function connect() {
      if (source) return;
      say(labels.connecting);
      source = new EventSource(url);
      source.addEventListener("state", function (event) {
        var next = JSON.parse(event.data);
        show(next);
        say(labels.live);
      });
      source.addEventListener("error", function () {
        // CONNECTING: the browser tries again by itself (the server ends each stream after a
        // few minutes, and a dropped one is retried); CLOSED: it gave up (refused, or gone).
        if (source && source.readyState === EventSource.CLOSED) {
          source = null;
          say(labels.stopped);
        } else {
          say(labels.reconnecting);
        }
      });
    }
    function disconnect(why) {
      if (!source) return;
      source.close();
      source = null;
      if (why) say(why);
    }
    document.addEventListener("visibilitychange", function () {
      if (document.hidden) disconnect(labels.paused);
      else connect();
    });
    window.addEventListener("pagehide", function () { disconnect(); });
    window.addEventListener("pageshow", function (event) { if (event.persisted) connect(); });
    if (!document.hidden) connect();
  }

  function salePage() {
    var funnel = json("funnel-data"), labels = json("chart-labels");
    if (!funnel || !labels) return;
    var box = document.querySelector("[data-chart=funnel]");
    if (box && window.echarts) funnelChart(box, funnel, labels);
    var panel = document.querySelector(".live-panel");
    var state = json("state-data");
    if (panel && state) livePanel(panel, state, funnel, labels);
  }

  function start() {
    if (window.echarts) dashboard();
    salePage();
    if (drawn.length) foldTables();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
