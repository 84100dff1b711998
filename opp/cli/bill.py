"""Billing commands."""

from __future__ import annotations

import typer

app = typer.Typer(help="Billable lines of a deal, and invoicing them.", no_args_is_help=True)
service_app = typer.Typer(help="The service catalog.", no_args_is_help=True)
