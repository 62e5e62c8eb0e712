"""The inbound SCIM 2.0 server's domain: an identity provider's people and groups, stored."""
