-- Operations: the retention purge and staff listings select by arrival time.
CREATE INDEX enquiries_received ON enquiries (received_at);
