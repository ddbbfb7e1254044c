"""Bank statement files: ISO 20022 camt.053 (v2–v8) and BAI2, to bank transactions for cash application."""
