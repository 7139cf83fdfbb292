"""The Import and Synchronize engine: match, apply and write users in batches."""
