"""Helpers of the ``ledgerlink`` command (dev machine / CI / ops terminal; not used by any Lambda).

- :mod:`.args`: argument types that refuse what they do not understand (exit 2, one line, a reason code);
- :mod:`.failures`: every failure an operator can cause or meet, as one line that says what to do;
- :mod:`.output`: ``--json`` payloads with documented keys, human tables, progress on a terminal;
- :mod:`.documents`: find documents by any id a provider or the ERP gave, list them with filters and paging;
- :mod:`.reports`: the on-demand runs' reports kept on disk.
"""
