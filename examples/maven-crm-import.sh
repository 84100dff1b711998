#!/usr/bin/env bash
# Bring a pipeline over from another CRM: Maven Analytics' CRM sample (sales_pipeline.csv, 8,800
# opportunities) into opp, in one command. Usage:
#
#   OPP_DB=maven.db examples/maven-crm-import.sh path/to/sales_pipeline.csv [--dry-run]
#
# Its columns: opportunity_id, sales_agent, product, account, deal_stage (Prospecting, Engaging, Won,
# Lost), engage_date and close_date (M/D/YYYY, empty on open deals), close_value (empty on open deals).
# The opportunity id becomes both title and external ref, so running the import again updates the
# deals instead of doubling them; the close date is the closed_at of won and lost deals and their
# expected close; deals without an account go to the customer "(no account)"; agents are matched by
# user name or created as users with handles such as moses-frase.
set -euo pipefail

file=${1:?usage: maven-crm-import.sh PATH/TO/sales_pipeline.csv [opp import options...]}
shift

opp import "$file" \
    --map title=opportunity_id \
    --map external_ref=opportunity_id \
    --map assignee=sales_agent \
    --map customer=account \
    --map description=product \
    --map stage=deal_stage \
    --map created_at=engage_date \
    --map closed_at=close_date \
    --map expected_close=close_date \
    --map value=close_value \
    --stage-map Prospecting=lead \
    --stage-map Engaging=qualification \
    --stage-map Won=won \
    --stage-map Lost=lost \
    --date-order mdy \
    --currency USD \
    --default-customer "(no account)" \
    "$@"
