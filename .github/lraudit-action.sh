#!/usr/bin/env bash
# The audit step of action.yml: SARIF for code scanning, markdown for the job summary, and the exit
# code of the audit itself (0, 1 at --fail-on, 2 for bad input) for the step's result.
set -uo pipefail
sarif="${RUNNER_TEMP:-/tmp}/lraudit.sarif"
eval "set -- ${LRAUDIT_PATHS} ${LRAUDIT_OPTIONS:-}"
lraudit audit "$@" --format sarif --output "$sarif" --fail-on never
status_sarif=$?
if [ "$status_sarif" -eq 0 ]; then
  echo "sarif=$sarif" >> "${GITHUB_OUTPUT:-/dev/null}"
fi
{
  echo "## lraudit"
  lraudit audit "$@" --format markdown --fail-on never
} >> "${GITHUB_STEP_SUMMARY:-/dev/null}"
lraudit audit "$@" --fail-on "${LRAUDIT_FAIL_ON:-error}" > /dev/null
