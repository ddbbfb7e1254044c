"""ERP connectors. Every connector has the same shape (see ``base.ErpConnector``): post a journal
once per external id, find by external id, report period status and limits. The embedded Beancount
book is the first; adding an ERP means adding one module and its contract tests.
"""
