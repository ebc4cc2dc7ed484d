"""The node's HTTP API: the FastAPI application, its read routes, answer models and errors.

``app`` builds the application (peer routes, submission, status, metrics),
``reads`` the signed read routes, ``prover`` and ``query`` the answers they
give, ``models`` their documented shapes, ``metrics`` the Prometheus page.
"""
