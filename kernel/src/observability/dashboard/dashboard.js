// The rayk dashboard: polls the head's JSON API (/api/cluster) and renders
// its tables with the DOM API (text only, never HTML: actor names and
// labels come from users). No framework, no build step.
"use strict";

const kRefreshMs = 1500;

// An element `tag` with `text` (a string or number) and CSS `className`.
function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

// An id shortened to its first 12 hex digits; the whole id in its title.
// A nil id (all zeros: an actor not placed yet) shows as nothing.
function idCell(id) {
  const td = el("td");
  if (id && !/^0+$/.test(id)) {
    const code = el("code", id.slice(0, 12));
    code.title = id;
    td.appendChild(code);
  }
  return td;
}

function stateCell(state) {
  return el("td", state, "state state-" + state);
}

function numberCell(value) {
  return el("td", value, "number");
}

function bytes(n) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return (i === 0 ? n : n.toFixed(1)) + " " + units[i];
}

function time(ms) {
  return ms ? new Date(ms).toLocaleTimeString() : "";
}

// "CPU 0/1, memory ..." : used/total of each resource.
function resources(total, available) {
  return Object.keys(total)
    .map((name) => name + " " + (total[name] - (available[name] || 0)) + "/" + total[name])
    .join(", ");
}

function keyValues(object) {
  return Object.keys(object)
    .map((key) => key + "=" + object[key])
    .join(", ");
}

// Replaces table `id`'s rows: a header of `columns`, a row per item made by
// `row` (an array of <td>s), or one "none" row.
function fillTable(id, columns, items, row) {
  const table = document.getElementById(id);
  const head = el("tr");
  for (const column of columns) head.appendChild(el("th", column));
  const rows = [head];
  if (items.length === 0) {
    const none = el("tr");
    const td = el("td", "none", "empty");
    td.colSpan = columns.length;
    none.appendChild(td);
    rows.push(none);
  }
  for (const item of items) {
    const tr = el("tr");
    for (const td of row(item)) tr.appendChild(td);
    rows.push(tr);
  }
  table.replaceChildren(...rows);
}

function usageCell(used, capacity) {
  const td = el("td", null, "number");
  const bar = el("span", null, "bar");
  const fill = el("span");
  fill.style.width = (capacity ? Math.min(100, (100 * used) / capacity) : 0) + "%";
  bar.appendChild(fill);
  td.appendChild(bar);
  td.appendChild(document.createTextNode(bytes(used) + " / " + bytes(capacity)));
  return td;
}

function render(cluster) {
  const alive = cluster.nodes.filter((n) => n.state === "ALIVE").length;
  document.getElementById("summary").textContent =
    alive + " of " + cluster.nodes.length + " nodes alive, " + cluster.actors.length +
    " actors, " + cluster.jobs.length + " jobs, " + cluster.tasks.total + " tasks";

  fillTable(
    "nodes",
    ["Node", "Address", "State", "Resources (used/total)", "Labels", "Workers", "Leases queued", "Started", "Death cause"],
    cluster.nodes,
    (n) => [
      idCell(n.node_id),
      el("td", n.address),
      stateCell(n.state),
      el("td", resources(n.total, n.available)),
      el("td", keyValues(n.labels)),
      numberCell(n.workers),
      numberCell(n.pending_leases),
      el("td", time(n.start_time_ms)),
      el("td", n.death_cause),
    ],
  );

  fillTable(
    "object-stores",
    ["Node", "Store", "Memory used / capacity", "Pinned", "Spilled", "Objects", "Evictions", "Spills"],
    cluster.object_stores,
    (s) =>
      s.up
        ? [
            idCell(s.node_id),
            el("td", s.plugin),
            usageCell(s.used_bytes, s.capacity_bytes),
            numberCell(bytes(s.pinned_bytes)),
            numberCell(bytes(s.spilled_bytes)),
            numberCell(s.num_objects),
            numberCell(s.num_evicted),
            numberCell(s.num_spilled),
          ]
        : [idCell(s.node_id), el("td", "its raylet did not answer", "empty")],
  );

  fillTable(
    "actors",
    ["Actor", "Name", "Class", "State", "Node", "Pid", "Restarts", "Why pending or dead"],
    cluster.actors,
    (a) => [
      idCell(a.actor_id),
      el("td", a.name),
      el("td", a.class),
      stateCell(a.state),
      idCell(a.node_id),
      numberCell(a.pid || ""),
      numberCell(a.restarts),
      el("td", a.pending_reason || a.death_cause),
    ],
  );

  fillTable(
    "jobs",
    ["Job", "State", "Driver pid", "Driver address", "Started", "Ended"],
    cluster.jobs,
    (j) => [
      idCell(j.job_id),
      stateCell(j.status),
      numberCell(j.driver_pid),
      el("td", j.driver_address),
      el("td", time(j.start_time_ms)),
      el("td", time(j.end_time_ms)),
    ],
  );

  const tasks = cluster.tasks;
  const states = Object.keys(tasks.by_state).sort();
  document.getElementById("task-totals").textContent =
    tasks.total + " task attempts" +
    (states.length ? ": " + states.map((s) => tasks.by_state[s] + " " + s).join(", ") : "") +
    (tasks.dropped_by_workers + tasks.dropped_by_gcs
      ? " (" + (tasks.dropped_by_workers + tasks.dropped_by_gcs) + " dropped)"
      : "");
  fillTable("tasks", ["Name", "Total"].concat(states), tasks.by_name, (t) =>
    [el("td", t.name), numberCell(t.total)].concat(states.map((s) => numberCell(t.by_state[s] || 0))),
  );
}

function showStatus(text, isError) {
  const status = document.getElementById("status");
  status.textContent = text;
  status.className = isError ? "status error" : "status";
}

// Fetches and renders once; a failure shows on the page (not in the
// console) and the next poll tries again.
async function refresh() {
  try {
    const response = await fetch("/api/cluster", { cache: "no-store" });
    if (!response.ok) {
      // The server's errors under /api/ are JSON: {"error": "..."}.
      const body = await response.json().catch(() => ({}));
      throw new Error(body.error || "HTTP " + response.status + " from /api/cluster");
    }
    render(await response.json());
    showStatus("Updated " + new Date().toLocaleTimeString(), false);
  } catch (error) {
    showStatus("No data from the head: " + error.message, true);
  } finally {
    setTimeout(refresh, kRefreshMs);
  }
}

refresh();
