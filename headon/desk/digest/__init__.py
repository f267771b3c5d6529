"""The night's digest: its snapshot and ledger, its formats and its PNG."""
