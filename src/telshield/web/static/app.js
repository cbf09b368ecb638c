// Draws the charts whose data the server wrote into data-chart (no inline script: the pages'
// Content-Security-Policy allows scripts from this server only).
(function () {
  "use strict";
  function draw(el) {
    if (typeof echarts === "undefined") { return; }
    var data = JSON.parse(el.getAttribute("data-chart"));
    var chart = echarts.init(el);
    var option;
    if (el.getAttribute("data-kind") === "stacked") {
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
