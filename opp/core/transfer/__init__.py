"""Deals in and out of opp as files: the file readers, ``opp import``, ``opp export`` and the demo data."""
