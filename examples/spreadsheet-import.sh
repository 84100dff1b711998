#!/usr/bin/env bash
# Import a pipeline kept in a spreadsheet (saved as CSV UTF-8): its own column names, its own stage
# names, day-first dates, owners by name (a new one becomes a user: "Noor Haddad" -> noor-haddad). Check it with --dry-run, then import it for real.
#
#   examples/spreadsheet-import.sh [my-sheet.csv]
#
# Run it again after editing the sheet: rows are matched by "Row ID" (the external ref), so changed
# rows update their deals (noted "import" in history) and unchanged rows change nothing.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
sheet=${1:-$here/spreadsheet.csv}

options=(
    --map "external_ref=Row ID"
    --map title=Deal
    --map customer=Company
    --map "customer_kind=Contact type"
    --map value=Amount
    --map stage=Stage
    --map "expected_close=Close date"
    --map assignee=Owner
    --map description=Notes
    --stage-map New=lead
    --stage-map Qualified=qualification
    --stage-map "Proposal sent=proposal"
    --stage-map Negotiating=negotiation
    --date-order dmy
    --currency EUR
)

echo "Checking $sheet:"
opp import "$sheet" "${options[@]}" --dry-run
echo
echo "Importing:"
opp import "$sheet" "${options[@]}"
