"""The other server processes of one ``serve``: token ownership and forwarding between them."""

from compliance_shield.adapters.peers.transport import PeerLost, Peers, PeerUnreachable

__all__ = ["PeerLost", "PeerUnreachable", "Peers"]
