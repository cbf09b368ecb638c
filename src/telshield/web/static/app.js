// Draws the charts whose data the server wrote into data-chart (no inline script: the pages'
// Content-Security-Policy allows scripts from this server only).
(function () {
  "use strict";
  function draw(el) {
    if (typeof echarts === "undefined") { return; }
    var data = JSON.parse(el.getAttribute("data-chart"));
    var chart = echarts.init(el);
    var option;
    if (el.getAttribute("data-kind") === "map") {
      // dens and hotspots as points on longitude/latitude (no county borders); the vendored
      // simple build has no scatter series, so these are line series with the line hidden
      option = {
        tooltip: { trigger: "item", formatter: function (p) { return p.value[2] + " (" + p.value[3] + ")"; } },
        legend: {},
        xAxis: { type: "value", scale: true, name: "lon" },
        yAxis: { type: "value", scale: true, name: "lat" },
        series: [
          { name: "dens", type: "line", lineStyle: { width: 0 }, showSymbol: true, symbolSize: 12, data: data.dens },
          { name: "hotspots", type: "line", lineStyle: { width: 0 }, showSymbol: true, symbol: "diamond", symbolSize: 14, data: data.hotspots }
        ]
      };
    } else if (el.getAttribute("data-kind") === "stacked") {
      option = {
        tooltip: { trigger: "axis" }, legend: {}, xAxis: { type: "category", data: data.days },
        yAxis: { type: "value", minInterval: 1 },
        series: Object.keys(data.series).map(function (k) {
          return { name: k, type: "bar", stack: "all", data: data.series[k] };
        })
      };
    } else {
      option = {
        tooltip: { trigger: "axis" }, xAxis: { type: "category", data: data.labels },
        yAxis: { type: "value", min: 0, max: 1 },
        series: [{ name: "score", type: "line", data: data.score }]
      };
    }
    chart.setOption(option);
    window.addEventListener("resize", function () { chart.resize(); });
    el.setAttribute("data-drawn", "1");
  }
  function all() { document.querySelectorAll("[data-chart]").forEach(draw); }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", all); }
  else { all(); }
})();
