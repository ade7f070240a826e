"""The EVM chain (Besu in production, anvil in tests) through web3.py.

``client`` speaks JSON-RPC, ``transactions`` signs and sends with nonce and gas management,
``contracts`` loads the compiled ABIs and encodes calls, ``events`` decodes the token logs and
``certificates`` builds and signs EIP-712 transfer certificates.
"""
