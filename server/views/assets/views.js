// Renders the view-models of server/views/models.py. Shared by the MCP Apps views (bridge.js)
// and the dashboard (dashboard.js); `actions.call(tool, args)` is how a button acts: through the
// host bridge in an MCP host, through the dashboard's API in a browser tab.
"use strict";
(function (root) {
  const { Chart, sparkline, fmt } = root.MLChart;

  function h(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") node.className = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else if (k === "data") Object.assign(node.dataset, v);
      else node.setAttribute(k, v);
    }
    for (const c of children.flat()) if (c != null) node.append(c instanceof Node ? c : String(c));
    return node;
  }

  function badge(text, kind) {
    return h("span", { class: `badge ${kind || text}`, data: { role: "badge" } }, text);
  }

  function matchesTag(metric, tag) {
    return metric === tag || tag.endsWith("/" + metric) || tag.endsWith(metric);
  }

  function experiment(model, actions) {
    const out = h("div", { class: "view experiment" });
    const verdict = model.verdict;
    out.append(
      h("header", {},
        h("h2", {}, `Run ${model.source}`),
        verdict ? badge(verdict.status, verdict.status) : badge("no preferences", "muted"),
        model.chain.length > 1 ? h("span", { class: "muted" }, ` chain: ${model.chain.join(" → ")}`) : null),
    );
    if (verdict) {
      out.append(h("p", { class: "verdict", data: { role: "verdict" } }, verdict.summary || ""));
      const list = h("ul", { class: "verdicts" });
      for (const v of verdict.verdicts) list.append(h("li", { class: v.severity }, `${v.subject} ${v.kind}: ${v.message}`));
      out.append(list);
    }
    const picker = h("div", { class: "tags", data: { role: "tags" } });
    const shown = new Set(model.series.map((s) => s.tag));
    for (const tag of model.tags_available) {
      const box = h("input", { type: "checkbox", value: tag });
      box.checked = shown.has(tag);
      box.addEventListener("change", () => {
        const chosen = [...picker.querySelectorAll("input:checked")].map((i) => i.value);
        if (actions.reload) actions.reload({ tags: chosen });
      });
      picker.append(h("label", {}, box, tag));
    }
    out.append(picker);
    for (const series of model.series) {
      const holder = h("div", { class: "chart-holder", data: { tag: series.tag } });
      out.append(holder);
      new Chart(holder, {
        title: series.tag + (series.goal ? ` (${series.goal})` : ""),
        key: `${model.source}|${series.tag}`,
        segments: series.segments.map((s) => ({ ...s, label: s.source })),
        thresholds: model.thresholds.filter((t) => matchesTag(t.metric, series.tag))
          .map((t) => ({ value: t.value, label: `${t.metric} threshold` })),
        restarts: model.restarts.map((r) => ({ step: r.step, label: `${r.job_id}: ${r.change || ""}` })),
      });
    }
    if (model.restarts.length) {
      const list = h("ol", { class: "restarts", data: { role: "restarts" } });
      for (const r of model.restarts) {
        const j = r.journal || {};
        list.append(h("li", {}, h("b", {}, `restart → ${r.job_id}`),
          r.step != null ? ` at step ${r.step}` : "",
          r.change ? h("div", {}, `change: ${r.change}`) : null,
          j.observation ? h("div", { class: "muted" }, `journal: ${j.observation} — ${j.decision}`) : null));
      }
      out.append(h("h3", {}, "Restarts"), list);
    }
    if (model.journal.length) {
      const list = h("ul", { class: "journal" });
      for (const e of model.journal) list.append(h("li", {}, h("time", {}, e.time), ` ${e.decision}`, h("div", { class: "muted" }, e.observation)));
      out.append(h("h3", {}, "Journal"), list);
    }
    for (const p of model.problems) out.append(h("p", { class: "muted" }, `note: ${p}`));
    return out;
  }

  function job(model, actions) {
    const j = model.job;
    const health = j.health || {};
    const out = h("div", { class: "view job" });
    out.append(h("header", {}, h("h2", {}, `Job ${j.job_id}`), badge(j.status), h("span", { class: "muted" }, ` ${j.name || ""} on ${j.backend || ""}`)));
    const rows = [
      ["runtime", j.runtime || (j.runtime_s != null ? `${j.runtime_s}s` : "-")],
      ["process alive", health.process_alive == null ? "-" : String(health.process_alive)],
      ["last metric step", health.last_metric_step ?? "-"],
      ["idle", health.idle_s != null ? `${Math.round(health.idle_s)}s` : "-"],
      ["exit code", j.exit_code ?? "-"],
    ];
    out.append(h("table", { class: "facts" }, rows.map(([k, v]) => h("tr", {}, h("th", {}, k), h("td", {}, String(v))))));
    if (model.sparkline) {
      const spark = h("div", { class: "sparkline", data: { role: "sparkline" } }, h("span", { class: "muted" }, model.sparkline.tag + " "));
      sparkline(spark, model.sparkline.points);
      out.append(spark);
    }
    out.append(h("pre", { class: "log", data: { role: "log" } }, model.log_lines.join("\n") || "(no log yet)"));
    if (model.can_cancel) {
      const status = h("span", { class: "muted", data: { role: "action-status" } });
      const cancel = h("button", { type: "button", class: "danger", data: { role: "cancel" } }, "Cancel job");
      cancel.addEventListener("click", async () => {
        cancel.disabled = true;
        status.textContent = " cancelling…";
        try {
          await actions.call("jobs_cancel", { job_id: j.job_id });
          status.textContent = " cancelled";
          if (actions.reload) actions.reload({});
        } catch (err) {
          status.textContent = ` ${err.message}`;
          cancel.disabled = false;
        }
      });
      out.append(h("div", { class: "actions" }, cancel, status));
    }
    return out;
  }

  function approval(model, actions) {
    const out = h("div", { class: "view approval" });
    out.append(h("header", {}, h("h2", {}, `Run ${model.run_id}`), badge(model.status)), h("p", {}, model.task || ""));
    if (!model.pending.length) out.append(h("p", { class: "muted", data: { role: "no-pending" } }, "Nothing waits for approval."));
    for (const p of model.pending) {
      const feedback = h("textarea", { rows: 2, placeholder: "feedback for the agent (optional)", data: { role: "feedback" } });
      const status = h("span", { class: "muted", data: { role: "action-status" } });
      const decide = (action) => async () => {
        status.textContent = " sending…";
        try {
          await actions.call("ml_task", {
            run_id: model.run_id,
            action: "approve",
            decisions: [{ call_id: p.call_id, action, feedback: feedback.value || null }],
          });
          status.textContent = action === "approve" ? " approved" : " declined";
          if (actions.reload) actions.reload({});
        } catch (err) {
          status.textContent = ` ${err.message}`;
        }
      };
      out.append(h("div", { class: "pending", data: { call: p.call_id } },
        h("h3", {}, `${p.tool}`), h("p", {}, p.reason || ""),
        h("pre", { class: "args" }, JSON.stringify(p.arguments, null, 2)),
        feedback,
        h("div", { class: "actions" },
          h("button", { type: "button", class: "primary", data: { role: "approve" }, onclick: decide("approve") }, "Approve"),
          h("button", { type: "button", data: { role: "decline" }, onclick: decide("deny") }, "Decline"),
          status)));
    }
    for (const d of model.declined) out.append(h("p", { class: "muted" }, `declined ${d.tool} (${d.by}): ${d.feedback || ""}`));
    if (model.summary) out.append(h("h3", {}, "Result"), h("p", { data: { role: "summary" } }, model.summary));
    if (model.events.length) {
      const list = h("ol", { class: "timeline", data: { role: "timeline" } });
      for (const e of model.events) list.append(h("li", { class: e.kind || "" }, `#${e.seq} ${e.summary}`));
      out.append(h("h3", {}, "Timeline"), list);
    }
    return out;
  }

  const RENDERERS = { experiment, job, approval };

  function render(container, model, actions) {
    container.textContent = "";
    const renderer = RENDERERS[model.view];
    container.append(renderer ? renderer(model, actions || {}) : h("pre", {}, JSON.stringify(model, null, 2)));
  }

  root.MLViews = { render, h, badge, fmt };
})(window);
