// The dashboard: a hash router over the view-models the server builds, refreshed when the
// server pushes "changed" on /api/events (server-sent events; no polling from here).
"use strict";
(function (root) {
  const { render, h, badge } = root.MLViews;
  const main = document.getElementById("main");
  let current = { tags: null };

  async function get(path) {
    const response = await fetch(path, { credentials: "same-origin" });
    const body = await response.json();
    if (!response.ok) throw new Error(body.error || response.statusText);
    return body;
  }

  async function call(tool, args) {
    const response = await fetch("/api/call", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ tool, arguments: args }),
    });
    const body = await response.json();
    if (!response.ok) throw new Error(body.error || response.statusText);
    return body;
  }

  const link = (href, text) => h("a", { href }, text);

  function overview(model) {
    const out = h("div", { class: "view overview" });
    const waiting = model.runs.filter((r) => r.pending > 0);
    if (waiting.length) {
      out.append(h("h2", {}, "Waiting for you"));
      for (const r of waiting) out.append(h("p", { data: { role: "waiting" } }, link(`#/run/${r.run_id}`, `${r.run_id}: ${r.pending} approval(s)`), ` — ${r.task}`));
    }
    out.append(h("h2", {}, `Jobs (${model.jobs_total})`));
    const table = h("table", { class: "list", data: { role: "jobs" } },
      h("tr", {}, ["job", "status", "name", "created", "runtime", "curves"].map((c) => h("th", {}, c))));
    for (const j of model.jobs) {
      table.append(h("tr", { data: { job: j.job_id } },
        h("td", {}, link(`#/job/${j.job_id}`, j.job_id)), h("td", {}, badge(j.status)),
        h("td", {}, j.name || ""), h("td", {}, j.created_at || ""),
        h("td", {}, j.runtime_s != null ? `${j.runtime_s}s` : "-"),
        h("td", {}, link(`#/experiment/${encodeURIComponent(j.job_id)}`, "curves"))));
    }
    out.append(table);
    return out;
  }

  function runs(model) {
    const out = h("div", { class: "view runs" }, h("h2", {}, "Delegated runs"));
    const table = h("table", { class: "list", data: { role: "runs" } });
    for (const r of model.runs) {
      table.append(h("tr", {}, h("td", {}, link(`#/run/${r.run_id}`, r.run_id)), h("td", {}, badge(r.status)),
        h("td", {}, r.pending ? `${r.pending} pending` : ""), h("td", {}, r.task)));
    }
    out.append(model.runs.length ? table : h("p", { class: "muted" }, "No delegated runs yet."));
    return out;
  }

  function journals(model) {
    const out = h("div", { class: "view journals" }, h("h2", {}, "Journals"));
    for (const name of model.experiments) out.append(h("p", {}, link(`#/journal/${encodeURIComponent(name)}`, name)));
    if (!model.experiments.length) out.append(h("p", { class: "muted" }, "No journal yet."));
    return out;
  }

  function journal(page) {
    const out = h("div", { class: "view journal" }, h("h2", {}, `Journal ${page.experiment}`), h("p", { class: "muted" }, page.path));
    const list = h("ol", { class: "journal", data: { role: "journal" } });
    for (const e of page.entries) {
      list.append(h("li", {}, h("time", {}, e.time), h("div", {}, h("b", {}, "Observation: "), e.observation),
        h("div", {}, h("b", {}, "Decision: "), e.decision), e.action ? h("div", {}, h("b", {}, "Action: "), e.action) : null,
        e.job_ids.length ? h("div", { class: "muted" }, e.job_ids.join(" → ")) : null));
    }
    out.append(list);
    return out;
  }

  async function show() {
    const parts = location.hash.replace(/^#\/?/, "").split("/");
    const [page, id] = [parts[0] || "home", decodeURIComponent(parts.slice(1).join("/"))];
    for (const a of document.querySelectorAll("nav a")) a.classList.toggle("on", a.dataset.nav === page);
    const reload = (more) => { if (more && more.tags) current.tags = more.tags; show(); };
    const actions = { call, reload };
    try {
      let node;
      if (page === "job") {
        node = await get(`/api/view/job?job_id=${encodeURIComponent(id)}`);
      } else if (page === "experiment") {
        const tags = current.tags ? `&tags=${encodeURIComponent(current.tags.join(","))}` : "";
        node = await get(`/api/view/experiment?source=${encodeURIComponent(id)}${tags}`);
      } else if (page === "run") {
        node = await get(`/api/view/approval?run_id=${encodeURIComponent(id)}`);
      } else if (page === "journal") {
        main.replaceChildren(journal(await get(`/api/journal?experiment=${encodeURIComponent(id)}`)));
        return;
      } else {
        const model = await get("/api/overview");
        main.replaceChildren(page === "runs" ? runs(model) : page === "journals" ? journals(model) : overview(model));
        return;
      }
      render(main, node, actions);
    } catch (err) {
      main.replaceChildren(h("p", { class: "error", data: { role: "error" } }, String(err.message || err)));
    }
  }

  root.addEventListener("hashchange", () => { current = { tags: null }; show(); });
  const live = document.getElementById("live");
  const events = new EventSource("/api/events");
  events.addEventListener("open", () => { live.textContent = "● live"; });
  // A change pushed while someone types feedback waits until they leave the field (and the
  // indicator says so, so nobody wonders why the page stopped following).
  let deferred = false;
  const typing = () => main.contains(document.activeElement) && document.activeElement.tagName === "TEXTAREA";
  events.addEventListener("changed", () => {
    if (!typing()) { show(); return; }
    deferred = true;
    live.textContent = "● live (updates wait while you type)";
  });
  main.addEventListener("focusout", () => {
    if (!deferred) return;
    deferred = false;
    live.textContent = "● live";
    show();
  });
  events.addEventListener("error", () => { live.textContent = "○ reconnecting"; });
  show();
})(window);
