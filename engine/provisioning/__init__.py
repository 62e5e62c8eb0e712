"""Provisioning: jobs calling connected applications, their outcomes, accounts and incidents."""
