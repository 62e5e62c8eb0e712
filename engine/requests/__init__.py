"""Access requests: the catalog, the cart, submitted requests and their items, and listings."""
