// gridmint report.html: draws the charts of the data island with uPlot.
// Values are exact: the island carries base units as decimal strings, formatted here as tokens
// with string arithmetic only; Number() is used for plotting positions, never for a value shown.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("gm-data").textContent);
  var symbol = data.symbol;

  // "1234500000000000000000" -> "1,234.5" (exact: every digit kept, trailing zeros trimmed)
  function tokens(s) {
    var neg = s.charAt(0) === "-";
    var digits = neg ? s.slice(1) : s;
    while (digits.length < 19) digits = "0" + digits;
    var whole = digits.slice(0, digits.length - 18).replace(/^0+(?=\d)/, "");
    var frac = digits.slice(digits.length - 18).replace(/0+$/, "");
    whole = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    return (neg ? "-" : "") + whole + (frac ? "." + frac : "");
  }

  // a tick label: 1.2B, 350.0k
  function short(v) {
    var a = Math.abs(v);
    if (a >= 1e9) return (v / 1e9).toFixed(1) + "B";
    if (a >= 1e6) return (v / 1e6).toFixed(1) + "M";
    if (a >= 1e3) return (v / 1e3).toFixed(1) + "k";
    return v.toFixed(1);
  }

  // the exact difference a - b of two base-unit strings, as a Number of tokens (for positions)
  function diffTokens(a, b) {
    return Number(BigInt(a) - BigInt(b)) / 1e18;
  }

  var charts = [];

  // a dashed vertical line and a label at each policy upgrade (G12)
  function drawUpgrades(u) {
    var ctx = u.ctx;
    data.upgrades.forEach(function (up) {
      var x = Math.round(u.valToPos(up[0], "x", true));
      if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) return;
      ctx.save();
      ctx.strokeStyle = "#3c3c3c";
      ctx.fillStyle = "#3c3c3c";
      ctx.lineWidth = 2;
      ctx.setLineDash([6, 4]);
      ctx.beginPath();
      ctx.moveTo(x, u.bbox.top);
      ctx.lineTo(x, u.bbox.top + u.bbox.height);
      ctx.stroke();
      ctx.font = Math.round(12 * devicePixelRatio) + "px sans-serif";
      ctx.fillText("upgrade to " + up[1] + " (epoch " + up[0] + ")", x + 4, u.bbox.top + 14 * devicePixelRatio);
      ctx.restore();
    });
  }

  function build(chart, index) {
    var el = document.getElementById("plot-" + chart.id);
    var readout = document.getElementById("readout-" + chart.id);
    var rel = chart.relative_to;
    var columns = [chart.x];
    // away from the plot, the legend shows the last embedded row
    var last = chart.x.length - 1;
    var series = [{ label: "epoch", value: function (u, v, si, idx) { return String(chart.x[idx == null ? last : idx]); } }];
    chart.series.forEach(function (s) {
      var ys;
      if (rel != null) {
        var base = chart.series[rel - 1].values;
        ys = s.values.map(function (v, i) { return diffTokens(v, base[i]); });
      } else {
        ys = s.values.map(function (v) { return Number(v) / 1e18; });
      }
      columns.push(ys);
      series.push({
        label: s.label,
        stroke: s.color,
        width: 2,
        dash: s.dash ? [8, 5] : undefined,
        points: { show: false },
        value: function (u, v, si, idx) { return tokens(s.values[idx == null ? last : idx]) + " " + symbol; }
      });
    });
    var bands = chart.band ? [{ series: [chart.band[1], chart.band[0]], fill: "rgba(31,119,180,0.2)" }] : undefined;
    var yMax = chart.y_max;
    var opts = {
      width: Math.max(300, el.clientWidth || 900),
      height: 360,
      series: series,
      bands: bands,
      scales: {
        x: { time: false },
        y: yMax ? { range: function (u, min, max) { return [Math.min(0, min), yMax]; } } : {}
      },
      axes: [
        { label: "epoch" },
        { label: rel != null ? symbol + " from the median" : symbol, size: 70, values: function (u, ticks) { return ticks.map(short); } }
      ],
      cursor: { drag: { x: true, y: false } },
      legend: { live: true },
      hooks: {
        draw: [drawUpgrades],
        setCursor: [function (u) {
          var idx = u.cursor.idx;
          if (idx == null) return;
          readout.setAttribute("data-epoch", String(chart.x[idx]));
          var parts = ["epoch " + chart.x[idx] + " (base units)"];
          chart.series.forEach(function (s, k) {
            readout.setAttribute("data-value-" + k, s.values[idx]);
            parts.push(s.label + ": " + s.values[idx]);
          });
          readout.textContent = parts.join(" · ");
        }]
      }
    };
    var plot = new uPlot(opts, columns, el);
    el.setAttribute("data-ready", "1");
    charts[index] = { plot: plot, el: el, chart: chart };
  }

  data.charts.forEach(build);

  Array.prototype.forEach.call(document.querySelectorAll("button.reset"), function (button) {
    button.addEventListener("click", function () {
      var c = charts[Number(button.getAttribute("data-chart"))];
      if (!c) return;
      var x = c.chart.x;
      c.plot.setScale("x", { min: x[0], max: x[x.length - 1] });
    });
  });

  window.addEventListener("resize", function () {
    charts.forEach(function (c) { c.plot.setSize({ width: Math.max(300, c.el.clientWidth || 900), height: 360 }); });
  });

  // for tests and the curious: the charts by id
  window.gmCharts = {};
  charts.forEach(function (c) { window.gmCharts[c.chart.id] = c.plot; });
})();
