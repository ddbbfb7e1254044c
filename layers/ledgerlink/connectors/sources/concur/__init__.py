"""SAP Concur: RSA-signed Event Subscription Service events; approved expense reports fetched from Expense v4."""
