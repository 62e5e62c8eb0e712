"""Sync: reading a connected application's accounts and reconciling them with assignments."""
