#!/usr/bin/env bash
# A weekly pipeline review, ready for cron: overdue deals, stuck deals and this quarter's forecast.
#
#   # crontab -e: every Monday at 07:00, mailed to the team (cron mails whatever a job prints)
#   MAILTO=sales@example.com
#   0 7 * * MON  OPP_DB=/srv/sales/opp.db /opt/opp/examples/weekly-review.sh
#
# Settings: OPP_DB (the database), STUCK_DAYS (default 30), OPP (the opp command, default opp).
# Exit status: 0 when nothing is overdue; 6 when a deal is overdue (the review is still printed in
# full, so a monitor can alert on it); 1 when opp itself failed.
set -u

OPP=${OPP:-opp}
STUCK_DAYS=${STUCK_DAYS:-30}
status=0

if ! command -v "$OPP" >/dev/null 2>&1; then
    echo "weekly-review.sh: cannot run opp: no command '$OPP' (install opp, or set OPP to its path)" >&2
    exit 1
fi

# A check's own messages ("no deals match") stay out of the mail; its error is shown when it fails.
errors=$(mktemp) || exit 1
trap 'rm -f "$errors"' EXIT

section() { printf '\n== %s ==\n' "$1"; }
failed() { cat "$errors" >&2; echo "weekly-review.sh: $1 failed" >&2; exit 1; }

echo "Weekly pipeline review"

section "Overdue: expected close has passed"
"$OPP" report overdue --fail-if-any 2>"$errors"
case $? in
    0) echo "(none)" ;;
    6) status=6 ;;
    *) failed "opp report overdue" ;;
esac

section "Stuck: no stage change for more than $STUCK_DAYS days"
"$OPP" report stuck --days "$STUCK_DAYS" --fail-if-any 2>"$errors"
case $? in
    0) echo "(none)" ;;
    6) ;;
    *) failed "opp report stuck" ;;
esac

section "Forecast for this quarter, by assignee"
"$OPP" forecast --period this-quarter --by assignee || { echo "weekly-review.sh: opp forecast failed" >&2; exit 1; }

exit "$status"
