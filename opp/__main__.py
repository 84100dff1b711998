"""`python -m opp` runs the command line."""

from opp.cli.main import run

if __name__ == "__main__":
    run()
