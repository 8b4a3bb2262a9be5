-- The voucher ledger's tables as version 1 (ecert-token before the device-id
-- migration) wrote them: device ids stored as they came, in any case.
CREATE TABLE schema_versions (
    component TEXT PRIMARY KEY, version INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE settlement_vouchers (
    token_digest BLOB PRIMARY KEY,
    terminal_id TEXT NOT NULL,
    device_id TEXT,
    device_counter INTEGER,
    amount_fen INTEGER NOT NULL,
    voucher BLOB NOT NULL,
    submitted_at INTEGER NOT NULL,
    settled_at INTEGER,
    UNIQUE (device_id, device_counter)
);
INSERT INTO schema_versions VALUES ('settlement-vouchers', 1);
