// Draws the charts whose data the server wrote into data-chart (no inline script: the pages'
// Content-Security-Policy allows scripts from this server only).
(function () {
  "use strict";
  function draw(el) {
    if (typeof echarts === "undefined") { return; }
    var data = JSON.parse(el.getAttribute("data-chart"));
    var chart = echarts.init(el);
    var option;
    if (el.getAttribute("data-kind") === "graph") {
      // the trace: a force layout, nodes coloured by kind, edge width by strength; clicking a
      // number traces it (numbers the role sees masked are not links)
      var kinds = ["traced", "link", "via", "gang", "den"];
      var kindOf = function (k) { var i = kinds.indexOf(k); return i < 0 ? 1 : i; };
      option = {
        tooltip: { formatter: function (p) {
          return p.dataType === "edge" ? p.data.source + " — " + p.data.target + ": " + p.data.value
            : p.data.name + " (" + p.data.kind + ", " + p.data.value + ")"; } },
        legend: [{ data: kinds }],
        series: [{
          type: "graph", layout: "force", roam: true, draggable: true,
          force: { repulsion: 180, edgeLength: [40, 160] },
          categories: kinds.map(function (k) { return { name: k }; }),
          label: { show: data.nodes.length <= 30, position: "right", fontSize: 10 },
          data: data.nodes.map(function (n) {
            return { name: n.id, value: n.strength, kind: n.kind, traceable: n.traceable,
                     category: kindOf(n.kind),
                     symbolSize: n.kind === "traced" ? 26 : 10 + 14 * n.strength };
          }),
          links: data.edges.map(function (e) {
            return { source: e.source, target: e.target, value: e.strength,
                     lineStyle: { width: 0.5 + 5 * e.strength, opacity: 0.7 } };
          })
        }]
      };
    } else if (el.getAttribute("data-kind") === "map") {
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
    if (el.getAttribute("data-kind") === "graph") {
      chart.on("click", function (p) {
        if (p.dataType === "node" && p.data.traceable && p.data.kind !== "traced") {
          window.location.href = "/web/trace/" + encodeURIComponent(p.data.name);
        }
      });
    }
    window.addEventListener("resize", function () { chart.resize(); });
    el.setAttribute("data-drawn", "1");
  }
  function all() {
    document.querySelectorAll("[data-chart]:not([data-drawn])").forEach(draw);
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", all); }
  else { all(); }
  // charts that arrive in an htmx fragment (the trace loads after its page)
  document.addEventListener("htmx:afterSettle", all);
})();
