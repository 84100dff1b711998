#!/usr/bin/env bash
# Hand every open deal of one person to another, e.g. when someone leaves the team:
#
#   examples/bulk-reassign.sh sam priya
#
# `opp list --format ids` prints one id a line and `opp assign HANDLE -` reads them from stdin; the
# move is all or nothing, and `opp undo` (as the same user) takes it back in one step.
set -euo pipefail

from=${1:?usage: bulk-reassign.sh FROM_HANDLE TO_HANDLE}
to=${2:?usage: bulk-reassign.sh FROM_HANDLE TO_HANDLE}

ids=$(opp list --assignee "$from" --format ids)
if [ -z "$ids" ]; then
    echo "$from has no open deals"
    exit 0
fi
printf '%s\n' "$ids" | opp assign "$to" - --format ids > /dev/null
echo "moved $(printf '%s\n' "$ids" | wc -l | tr -d ' ') open deals from $from to $to"
