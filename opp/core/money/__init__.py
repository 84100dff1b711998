"""Money: amounts in integer minor units and the one rounding rule (amounts), the ISO 4217 table
(currencies), the same rules as SQL expressions (figures), and dated exchange rates (rates)."""
