"""Authorisations: memberships, maker-checker, invitations, ending access (issue 3)."""
