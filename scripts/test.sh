#!/usr/bin/env bash
# `npm test`: system packages, type-check, lint, then every test. Ends with one plain
# line "N passed, N failed, N skipped" that any CI can read, and vitest's exit code.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-system-deps.sh || exit 1
npx tsc --noEmit || { echo "0 passed, 1 failed (type-check)"; exit 1; }
npx eslint . || { echo "0 passed, 1 failed (lint)"; exit 1; }
mkdir -p .tmp
npx vitest run --reporter=default --reporter=json --outputFile.json=.tmp/vitest-results.json "$@"
code=$?
node -e '
  const fs = require("fs");
  try {
    const r = JSON.parse(fs.readFileSync(".tmp/vitest-results.json", "utf8"));
    const skipped = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
    console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed, ${skipped} skipped`);
  } catch { console.log("0 passed, 1 failed (no test results)"); }
'
exit $code
