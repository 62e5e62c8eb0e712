"""Human tasks: who may act on them, the inbox, and claiming, releasing and deciding them."""
