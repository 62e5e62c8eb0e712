"""The audit trail: recording every state change, searching it, and mailing people about events."""
