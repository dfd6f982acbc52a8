"use strict";
// The License consumption page: reads its data from ./api/report and renders it.

const root = document.body.dataset.root;
const STATUS_LABELS = {
  OVER_LIMIT: "over limit", AT_LIMIT: "at limit", NEAR_LIMIT: "near limit",
  OK: "ok", NO_LIMIT: "no limit", NOT_COLLECTED: "not collected",
};
let page = null;

function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  for (const child of children) node.append(child);
  return node;
}

function query() {
  const prefix = document.getElementById("prefix").value.trim();
  return prefix ? "?prefix=" + encodeURIComponent(prefix) : "";
}

function statusOf(row) {
  return row.status || "NOT_COLLECTED";
}

function bar(row) {
  const status = statusOf(row);
  const wrapper = element("div", { class: "bar", title: row.percent === null ? "" : row.percent + " %" });
  const fill = element("span", { class: status });
  fill.style.width = Math.min(row.percent || 0, 100) + "%";
  wrapper.append(fill);
  const label = row.percent === null ? "" : row.percent.toFixed(2) + " %";
  return [wrapper, element("span", { class: "bar-label" }, label)];
}

function sparkline(values) {
  const svgNS = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(svgNS, "svg");
  svg.setAttribute("class", "spark");
  svg.setAttribute("viewBox", "0 0 120 24");
  const known = values.filter((value) => value !== null);
  if (known.length === 0) return svg;
  const max = Math.max(...known), min = Math.min(...known), span = max - min || 1;
  const step = values.length > 1 ? 118 / (values.length - 1) : 0;
  const points = [];
  values.forEach((value, index) => {
    if (value === null) return;
    points.push((1 + index * step).toFixed(1) + "," + (22 - ((value - min) / span) * 20).toFixed(1));
  });
  const line = document.createElementNS(svgNS, "polyline");
  line.setAttribute("points", points.join(" "));
  const title = document.createElementNS(svgNS, "title");
  title.textContent = values.map((value) => (value === null ? "–" : value)).join(", ");
  svg.append(title, line);
  return svg;
}

function change(row) {
  if (row.change === null) return "–";
  return row.change > 0 ? "+" + row.change : String(row.change);
}

function fillSelect(id, values, labels = {}) {
  const select = document.getElementById(id);
  select.length = 1;
  for (const value of values) select.append(element("option", { value }, labels[value] || value));
}

function renderRows() {
  const account = document.getElementById("filter-account").value;
  const region = document.getElementById("filter-region").value;
  const status = document.getElementById("filter-status").value;
  const body = document.querySelector("#configurations tbody");
  body.replaceChildren();
  let shown = 0;
  for (const row of page.configurations) {
    if ((account && row.account !== account) || (region && row.region !== region)) continue;
    if (status && statusOf(row) !== status) continue;
    shown += 1;
    const consumed = row.count === null ? String(row.consumed ?? "–") : row.consumed + " / " + row.count;
    const tr = element("tr", { "data-arn": row.arn, "data-status": statusOf(row) },
      element("td", { title: row.arn }, row.name || row.arn),
      element("td", {}, row.account),
      element("td", {}, row.region),
      element("td", {}, element("span", { class: "status " + statusOf(row) }, STATUS_LABELS[statusOf(row)])),
      element("td", {}, ...bar(row)),
      element("td", { class: "number" }, row.error ? "" : consumed),
      element("td", { class: "number" }, change(row)),
      element("td", {}, sparkline(row.history)));
    if (row.error) tr.children[5].append(element("span", { class: "error" }, row.error));
    body.append(tr);
  }
  document.getElementById("shown").textContent = shown + " of " + page.configurations.length + " configurations";
}

function render() {
  const run = document.getElementById("run");
  if (!page.run_timestamp) {
    run.textContent = "No complete report set under s3://" + page.bucket + "/" + page.prefix;
    return;
  }
  run.replaceChildren(
    "Latest complete run ", element("strong", {}, page.run_timestamp),
    " (collected " + page.collected_at + ", run " + page.run_id + ") in " + page.report_folder);
  const missing = document.getElementById("missing");
  missing.hidden = page.not_collected.length === 0;
  missing.replaceChildren(element("strong", {}, page.not_collected.length + " configuration(s) not collected: "),
    ...page.not_collected.map((entry) => element("div", {}, entry.arn + " (" + entry.status + "): " + (entry.error || ""))));
  const unique = (name) => [...new Set(page.configurations.map((row) => row[name]))].filter(Boolean).sort();
  fillSelect("filter-account", unique("account"));
  fillSelect("filter-region", unique("region"));
  fillSelect("filter-status", [...page.statuses, "NOT_COLLECTED"], STATUS_LABELS);
  document.getElementById("filters").hidden = false;
  document.getElementById("configurations").hidden = false;
  const list = document.querySelector("#downloads ul");
  list.replaceChildren(...page.files.map((file) => element("li", {},
    element("a", { href: root + "/download/" + encodeURIComponent(file.name) + query(), download: file.name },
      file.configuration ? file.configuration + ": " + file.name : file.name),
    " (" + file.rows + " rows)")));
  document.getElementById("downloads").hidden = false;
  renderRows();
}

async function load() {
  const run = document.getElementById("run");
  const response = await fetch(root + "/api/report" + query(), { credentials: "same-origin" });
  if (!response.ok) {
    run.textContent = "Could not load the report (" + response.status + "): " + (await response.text());
    return;
  }
  page = await response.json();
  if (!document.getElementById("prefix").value) document.getElementById("prefix").value = page.prefix;
  render();
}

document.addEventListener("DOMContentLoaded", () => {
  for (const id of ["filter-account", "filter-region", "filter-status"]) {
    document.getElementById(id).addEventListener("change", renderRows);
  }
  document.getElementById("location").addEventListener("submit", (event) => {
    event.preventDefault();
    load();
  });
  load();
});
