#!/usr/bin/env bash
# The weekly review as a page, ready for cron: writes this quarter's review (opp review) as one
# self-contained HTML file to print or attach, and prints the same review as Markdown, which cron
# mails (or paste it into chat).
#
#   # crontab -e: every Monday at 07:00; the Markdown is mailed, the page kept in /srv/sales/reviews
#   MAILTO=sales@example.com
#   0 7 * * MON  OPP_DB=/srv/sales/opp.db REVIEW_DIR=/srv/sales/reviews /opt/opp/examples/review-page.sh
#
# Settings: OPP_DB (the database), REVIEW_DIR (where pages go, default .), PERIOD (default
# this-quarter), SINCE (default 7 days ago), CURRENCY (default the reporting currency), OPP (the opp
# command, default opp).
# The page is REVIEW_DIR/review-YYYY-MM-DD.html (today, UTC); run twice on one day, it is replaced.
# Exit status: 0 when the page was written; opp's own exit status when it was not.
set -u

OPP=${OPP:-opp}
REVIEW_DIR=${REVIEW_DIR:-.}
PERIOD=${PERIOD:-this-quarter}

if ! command -v "$OPP" >/dev/null 2>&1; then
    echo "review-page.sh: cannot run opp: no command '$OPP' (install opp, or set OPP to its path)" >&2
    exit 1
fi

args=(review --period "$PERIOD")
if [ -n "${SINCE:-}" ]; then args+=(--since "$SINCE"); fi
if [ -n "${CURRENCY:-}" ]; then args+=(--currency "$CURRENCY"); fi

page="$REVIEW_DIR/review-$(date -u +%Y-%m-%d).html"
"$OPP" "${args[@]}" --format html --out "$page" --force || exit $?
"$OPP" "${args[@]}" --format md || exit $?
echo
echo "The page to print: $page"
