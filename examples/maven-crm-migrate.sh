#!/usr/bin/env bash
# Move in from Maven Analytics' CRM sample with the reviewed recipe in maven-crm.toml, in one command,
# and say what was set aside. Usage:
#
#   OPP_DB=maven.db examples/maven-crm-migrate.sh path/to/sales_pipeline.csv [REJECTS.csv]
#
# It defines the custom deal field `product` (a choice of the seven products) when the database lacks
# it, then imports the file with `--profile maven-crm.toml`: deals with an account are imported (in one
# transaction), deals without one are left out and written to REJECTS.csv (default
# maven-rejects.csv, replaced if there), each with its line in the file and the reason. Fill in their
# accounts and load them with:
#
#   opp import maven-rejects.csv --profile examples/maven-crm.toml --ignore line --ignore error
#
# Running it again updates the deals it imported before (by external_ref) instead of doubling them.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
file=${1:?usage: maven-crm-migrate.sh PATH/TO/sales_pipeline.csv [REJECTS.csv]}
rejects=${2:-maven-rejects.csv}

# The product names as this export spells them (its products.csv writes "GTX Pro" for "GTXPro").
if ! opp field list --format csv | cut -d, -f1 | grep -qx product; then
    opp field add product --type choice \
        --choices "GTX Basic,GTXPro,GTX Plus Basic,GTX Plus Pro,GTK 500,MG Special,MG Advanced" >/dev/null
fi

# The summary as CSV: a header line and one line of figures.
summary=$(opp import "$file" --profile "$here/maven-crm.toml" --rejects "$rejects" --force --output-format csv)
figure() {
    awk -F, -v key="$1" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == key) col = i } NR == 2 { print $col }' \
        <<<"$summary"
}

echo "imported $(figure created) new deals, updated $(figure updated), $(figure unchanged) unchanged;" \
    "$(figure customers_created) customers and $(figure users_created) users created"
skipped=$(figure skipped)
if [ "$skipped" -gt 0 ]; then
    echo "set aside $skipped rows, written to $rejects with the line and reason of each; the reasons:"
    # The last cell of each row is the reason, quoted the CSV way when it holds a comma.
    tail -n +2 "$rejects" \
        | sed -E -e 's/.*,([0-9]+),("([^"]|"")*"|[^,]*)$/\2/' -e 's/^"(.*)"$/\1/' -e 's/""/"/g' \
        | sort | uniq -c | sort -rn
else
    echo "nothing set aside"
fi
