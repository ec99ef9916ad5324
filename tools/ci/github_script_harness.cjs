#!/usr/bin/env node
// Run one `actions/github-script` step's script outside GitHub, against a recorded fake of the
// Octokit client, so tests/unit/test_workflows.py can check what a workflow's JavaScript decides (who
// may apply, which comment is edited, when a drift issue is closed) instead of only its shape.
//
// stdin: {"script": str, "env": {..}, "context": {..}, "api": {"ns.method": RESPONSE | [RESPONSE..]},
//         "files": {"path": "content"}, "workspace": "/dir"}
//   workspace (optional) stands for GITHUB_WORKSPACE: the script runs there, and, as in
//   actions/github-script (its `require` wrapper, v8.0.0 src/wrap-require.ts), a relative require
//   resolves against it, so a step that requires a module of the checkout runs that module.
//   RESPONSE is {"data": any} or {"status": 404, "message": "..."} (thrown like an Octokit error);
//   a list is consumed in order and its last entry repeats; {"byParam": "username", "responses":
//   {"alice": RESPONSE}, "default": RESPONSE} answers by the value of one request parameter.
// stdout: {"calls": [{"method", "params"}], "outputs": {..}, "failed": str|null, "logs": [..],
//          "error": str|null}
"use strict";

const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");

function readStdin() {
  return fs.readFileSync(0, "utf8");
}

function makeGithub(api, calls) {
  const cursor = {};
  function respond(method, params) {
    calls.push({ method, params });
    let spec = api[method];
    if (spec === undefined) {
      throw Object.assign(new Error(`unexpected API call ${method}`), { status: 500 });
    }
    if (spec && spec.byParam !== undefined) {
      const key = String(params[spec.byParam]);
      spec = Object.prototype.hasOwnProperty.call(spec.responses, key) ? spec.responses[key] : spec.default;
      if (spec === undefined) {
        throw Object.assign(new Error(`unexpected ${method} for ${key}`), { status: 500 });
      }
    }
    if (Array.isArray(spec)) {
      const i = Math.min(cursor[method] || 0, spec.length - 1);
      cursor[method] = (cursor[method] || 0) + 1;
      spec = spec[i];
    }
    if (spec.status && spec.status >= 400) {
      throw Object.assign(new Error(spec.message || `HTTP ${spec.status}`), { status: spec.status });
    }
    return { status: spec.status || 200, data: spec.data };
  }
  const rest = new Proxy(
    {},
    {
      get: (_t, ns) =>
        new Proxy(
          {},
          {
            get: (_u, name) => {
              const method = `${String(ns)}.${String(name)}`;
              const fn = async (params) => respond(method, params || {});
              fn.endpoint = { method };
              return fn;
            },
          },
        ),
    },
  );
  return {
    rest,
    paginate: async (fn, params) => {
      const res = await fn(params || {});
      return Array.isArray(res.data) ? res.data : [];
    },
  };
}

function makeCore(outputs, logs, state) {
  const summary = {
    addRaw: () => summary,
    addHeading: () => summary,
    addCodeBlock: () => summary,
    addLink: () => summary,
    write: async () => summary,
  };
  return {
    setOutput: (k, v) => {
      outputs[k] = typeof v === "string" ? v : JSON.stringify(v);
    },
    setFailed: (m) => {
      state.failed = String(m);
    },
    info: (m) => logs.push(["info", String(m)]),
    notice: (m) => logs.push(["notice", String(m)]),
    warning: (m) => logs.push(["warning", String(m)]),
    error: (m) => logs.push(["error", String(m)]),
    debug: () => {},
    summary,
  };
}

async function main() {
  const input = JSON.parse(readStdin());
  const calls = [];
  const outputs = {};
  const logs = [];
  const state = { failed: null };
  const workdir = input.workspace || fs.mkdtempSync(path.join(os.tmpdir(), "github-script-"));
  for (const [rel, content] of Object.entries(input.files || {})) {
    const target = path.join(workdir, rel);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, content);
  }
  process.chdir(workdir);
  Object.assign(process.env, input.env || {});
  // Retry loops sleep between attempts; the fake API answers at once, so do not wait.
  global.setTimeout = (fn) => setImmediate(fn);

  const ctx = input.context || {};
  const context = {
    ...ctx,
    repo: ctx.repo || { owner: "example-org", repo: "gitops-cluster" },
    issue: ctx.issue || { owner: "example-org", repo: "gitops-cluster", number: 0 },
  };
  const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor;
  const run = new AsyncFunction("github", "context", "core", "require", "process", input.script);
  const scriptRequire = (id) => (id.startsWith(".") ? require(path.resolve(process.cwd(), id)) : require(id));
  let error = null;
  try {
    await run(makeGithub(input.api || {}, calls), context, makeCore(outputs, logs, state), scriptRequire, process);
  } catch (err) {
    // github-script turns an uncaught error into a failed step.
    error = err && err.stack ? err.stack : String(err);
    state.failed = state.failed || String(err && err.message ? err.message : err);
  }
  process.stdout.write(JSON.stringify({ calls, outputs, failed: state.failed, logs, error }));
}

main().catch((err) => {
  process.stderr.write(String(err && err.stack ? err.stack : err));
  process.exit(2);
});
