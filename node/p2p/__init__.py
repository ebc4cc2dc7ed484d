"""Peers: outgoing batches of signed messages, their wire form, and block sync.

``transport`` sends, ``messages`` seals and opens what travels between
nodes, ``sync`` fetches and verifies the blocks a node missed.
"""
