"""Peers: persistent mutual-TLS connections between nodes, their frames, and block sync.

``tls`` binds each node's certificate to its node key, ``connection`` runs
TLS and frames over one TCP stream, ``frames`` is the wire form of what
nodes say, ``transport`` keeps the connections (dialling, admitting,
batching, fault injection), and ``sync`` fetches and verifies the blocks a
node missed.
"""
