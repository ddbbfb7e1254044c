"""AWS adapters — the only modules that talk to AWS (botocore clients, see ``clients``).

Clients are created lazily and injectable.
"""
