-- Forwarding's workers claim a destination's due deliveries in next_attempt_at order: this index holds only the
-- pending rows (a few, while delivered ones pile up by the million), by destination, so a claim and the check for
-- due work read the waiting rows only.
CREATE INDEX forward_deliveries_pending ON forward_deliveries(destination_id, next_attempt_at) WHERE status = 'pending';
