// Draws the charts whose data the server wrote into data-chart (no inline script: the pages'
// Content-Security-Policy allows scripts from this server only).
(function () {
  "use strict";
  function county(el, data, geo) {
    // Jiangsu's counties coloured by fraud calls, dens and hotspots on top; a den links to
    // its page
    echarts.registerMap("jiangsu", geo);
    var max = 1;
    data.counties.forEach(function (c) { if (c[1] > max) { max = c[1]; } });
    return {
      tooltip: { trigger: "item", formatter: function (p) {
        if (p.seriesType === "map") { return p.name + ": " + (isNaN(p.value) ? 0 : p.value); }
        return p.value[2] + " (" + p.value[3] + ")"; } },
      legend: { data: ["dens", "hotspots"], left: "left" },
      visualMap: { min: 0, max: max, calculable: true, seriesIndex: 0, left: "right",
                   text: ["fraud calls", "0"],
                   inRange: { color: ["#f4f6f8", "#fdd49e", "#fc8d59", "#b30000"] } },
      geo: { map: "jiangsu", roam: true, itemStyle: { borderColor: "#6b7785", areaColor: "#f4f6f8" },
             emphasis: { label: { show: false } } },
      series: [
        { name: "fraud calls", type: "map", geoIndex: 0,
          data: data.counties.map(function (c) { return { name: c[0], value: c[1] }; }) },
        { name: "dens", type: "scatter", coordinateSystem: "geo", symbolSize: 12, z: 3,
          itemStyle: { color: "#5a189a" },
          data: data.dens.map(function (d) { return { value: [d[0], d[1], d[2], d[3]], id: d[4] }; }) },
        { name: "hotspots", type: "scatter", coordinateSystem: "geo", symbol: "diamond",
          symbolSize: 14, z: 3, itemStyle: { color: "#0b5cad" },
          data: data.hotspots.map(function (h) { return { value: [h[0], h[1], h[2], h[3]] }; }) }
      ]
    };
  }
  function draw(el) {
    if (typeof echarts === "undefined") { return; }
    var data = JSON.parse(el.getAttribute("data-chart"));
    if (el.getAttribute("data-kind") === "county" && !el.getAttribute("data-geo-loaded")) {
      el.setAttribute("data-geo-loaded", "1");
      fetch(el.getAttribute("data-geo"), { credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (geo) { finish(el, echarts.init(el), county(el, data, geo)); });
      return;
    }
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
    } else if (el.getAttribute("data-kind") === "stacked" || el.getAttribute("data-kind") === "bars") {
      // stacked: one bar a day, the kinds on top of each other; bars: side by side
      var stack = el.getAttribute("data-kind") === "stacked" ? "all" : undefined;
      option = {
        tooltip: { trigger: "axis" }, legend: {}, xAxis: { type: "category", data: data.days },
        yAxis: { type: "value", minInterval: 1 },
        series: Object.keys(data.series).map(function (k) {
          return { name: k, type: "bar", stack: stack, data: data.series[k] };
        })
      };
    } else {
      option = {
        tooltip: { trigger: "axis" }, xAxis: { type: "category", data: data.labels },
        yAxis: { type: "value", min: 0, max: 1 },
        series: [{ name: "score", type: "line", data: data.score }]
      };
    }
    finish(el, chart, option);
  }
  function finish(el, chart, option) {
    chart.setOption(option);
    if (el.getAttribute("data-kind") === "county") {
      chart.on("click", function (p) {
        if (p.seriesName === "dens" && p.data && p.data.id) {
          window.location.href = "/web/dens/" + encodeURIComponent(p.data.id);
        }
      });
    }
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
