// Backstop dashboard: draws the trend charts. Each element with class "chart" names a form,
// a region, the fields to plot and how many days; the figures come from the JSON API (the
// same session cookie), so the page itself carries no inline script (CSP).
(function () {
  "use strict";
  function draw(el) {
    var url = "/api/v1/reports/trend?template=" + encodeURIComponent(el.dataset.template) +
      "&region=" + encodeURIComponent(el.dataset.region) + "&days=" + encodeURIComponent(el.dataset.days || "28");
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (t) {
        var fields = (el.dataset.fields || "").split(",").filter(Boolean);
        var labels = (el.dataset.labels || "").split(",");
        var x = t.points.map(function (p) { return p.period.slice(5); });
        var series = fields.map(function (f, i) {
          return { name: labels[i] || f, type: "line", smooth: true, showSymbol: false,
                   data: t.points.map(function (p) { return p.sums[f] || 0; }) };
        });
        if (t.points.some(function (p) { return p.expected; })) {
          series.push({ name: "报送率%", type: "bar", yAxisIndex: 1, itemStyle: { opacity: 0.35 },
                        data: t.points.map(function (p) { return p.expected ? Math.round(p.received * 1000 / p.expected) / 10 : 0; }) });
        }
        var chart = window.echarts.init(el, null, { renderer: "svg" });
        chart.setOption({
          animation: false,
          tooltip: { trigger: "axis" },
          legend: { top: 0 },
          grid: { left: 40, right: 40, top: 40, bottom: 24 },
          xAxis: { type: "category", data: x },
          yAxis: [{ type: "value" }, { type: "value", max: 100, splitLine: { show: false } }],
          series: series
        });
        window.addEventListener("resize", function () { chart.resize(); });
        el.setAttribute("data-drawn", "1");
      })
      .catch(function (e) { el.textContent = "趋势图加载失败（" + e + "）"; });
  }
  document.addEventListener("DOMContentLoaded", function () {
    if (!window.echarts) { return; }
    document.querySelectorAll(".chart").forEach(draw);
  });
})();
