"""Scale-out: Ray actor pools that keep each tier's engine resident (the database stays the queue)."""
