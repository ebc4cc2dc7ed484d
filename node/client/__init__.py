"""The client side of a node's API, for integrators: signing, requests, receipts.

Importable without the server's stack (FastAPI, LevelDB)::

    from node.client import Client, ClientError, verify_receipt
"""

from node.client.client import Client
from node.client.errors import ClientError
from node.client.receipt import verify_receipt

__all__ = ["Client", "ClientError", "verify_receipt"]
