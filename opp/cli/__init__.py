"""The command line: Typer commands that parse, call the core and render. No SQL, no domain rules."""
