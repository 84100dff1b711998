#!/usr/bin/env bash
# jq recipes over opp's JSON output (needs jq: apt install jq / brew install jq).
# Every command prints JSON with --format json; money is a plain number, dates are YYYY-MM-DD.
set -euo pipefail

echo "# Forecast per assignee this quarter (tab-separated)"
opp forecast --by assignee --period this-quarter --format json |
    jq -r '.currency as $c | .groups[] | [(.key // "unassigned"), .count, .forecast, $c] | @tsv'

echo
echo "# Deals closing this month: id, title, expected close, value, currency"
opp list --period this-month --format json |
    jq -r '.[] | [.id, .title, .expected_close, .value, .currency] | @tsv'

echo
echo "# Open value per currency"
opp list --format json |
    jq -c 'group_by(.currency) | map({currency: .[0].currency, deals: length, value: (map(.value) | add)}) | .[]'

echo
echo "# The five biggest open deals without an assignee"
opp list --unassigned --sort -value --limit 5 --format json | jq -r '.[] | "\(.id)\t\(.value) \(.currency)\t\(.title)"'
