"""Reference data: investors, wallets, tokens, holdings, policies, their validated inputs, the
in-memory snapshot and the demo seed."""
