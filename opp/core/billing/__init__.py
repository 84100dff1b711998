"""Billing: the service catalog, each deal's billable lines, and the invoices issued from them, with how
their numbers are written (numbering)."""
