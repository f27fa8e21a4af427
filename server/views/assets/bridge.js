// The MCP Apps side (io.modelcontextprotocol/ui): JSON-RPC over postMessage with the host.
// The view never fetches anything itself: every read and action is a tools/call the host
// forwards (so the host's approvals apply), and what it shows is the views_* tool's model.
"use strict";
(function (root) {
  const KIND = document.body.dataset.view; // experiment | job | approval
  const pending = new Map();
  let nextId = 1;
  let args = {};
  const main = document.getElementById("main");

  function request(method, params) {
    const id = nextId++;
    return new Promise((resolve, reject) => {
      pending.set(id, { resolve, reject });
      root.parent.postMessage({ jsonrpc: "2.0", id, method, params }, "*");
    });
  }
  function notify(method, params) {
    root.parent.postMessage({ jsonrpc: "2.0", method, params: params || {} }, "*");
  }

  async function callTool(name, toolArgs) {
    const result = await request("tools/call", { name, arguments: toolArgs });
    if (result.isError) {
      const text = (result.content || []).map((c) => c.text || "").join(" ");
      throw new Error(text || `${name} failed`);
    }
    return result.structuredContent || {};
  }

  function target(structured) {
    const s = structured || {};
    if (KIND === "experiment") return s.job_id || s.source || args.source || args.job_id;
    if (KIND === "job") return s.job_id || args.job_id || (s.jobs && s.jobs[0] && s.jobs[0].job_id);
    return s.run_id || args.run_id;
  }

  const REFRESH_MS = 3000; // while a job or run is live: no push channel inside a host
  let refresh = null;

  async function show(id, extra) {
    if (!id) return;
    clearTimeout(refresh);
    const params = KIND === "experiment" ? { source: id, ...extra }
      : KIND === "job" ? { job_id: id } : { run_id: id };
    if (KIND === "experiment" && args.tags && !(extra && extra.tags)) params.tags = args.tags;
    if (KIND === "experiment" && args.preferences) params.preferences = args.preferences;
    try {
      const result = await callTool(`views_${KIND}`, params);
      root.MLViews.render(main, result.model, { call: callTool, reload: (more) => show(id, more) });
      if (result.model.live) refresh = setTimeout(() => show(id, extra), REFRESH_MS);
    } catch (err) {
      main.textContent = String(err.message || err);
    }
    notify("ui/notifications/size-changed", { height: document.documentElement.scrollHeight });
  }

  root.addEventListener("message", (event) => {
    if (event.source !== root.parent) return; // only the host speaks to this view
    const msg = event.data || {};
    if (msg.id != null && pending.has(msg.id) && !msg.method) {
      const { resolve, reject } = pending.get(msg.id);
      pending.delete(msg.id);
      if (msg.error) reject(new Error(msg.error.message || "host error"));
      else resolve(msg.result);
      return;
    }
    if (msg.method === "ui/notifications/tool-input") args = (msg.params && msg.params.arguments) || {};
    if (msg.method === "ui/notifications/tool-result") {
      const result = msg.params || {};
      const id = target(result.structuredContent);
      if (id) show(id);
      else main.textContent = (result.content || []).map((c) => c.text || "").join("\n");
    }
    if (msg.method === "ui/resource-teardown" && msg.id != null) {
      root.parent.postMessage({ jsonrpc: "2.0", id: msg.id, result: {} }, "*");
    }
  });

  request("ui/initialize", {
    protocolVersion: "2026-01-26",
    appInfo: { name: `mlintern-${KIND}`, version: "1" },
    appCapabilities: {},
  }).then(() => notify("ui/notifications/initialized"));
})(window);
