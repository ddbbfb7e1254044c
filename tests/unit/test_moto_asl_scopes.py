"""moto's ASL preprocessor kept its query-language scope stack on the class, shared by every thread: two executions
parsed at once popped each other's scope and one died with an IndexError (a functional test's wait timed out on it).
``own_query_language_scopes`` gives each preprocessor its own stack. (The race — an emptiness check, then another
thread's pop, then a read of the last scope — is a few bytecodes wide: it is checked here by its cause, the shared
list, not by trying to hit it.)"""

from __future__ import annotations

from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor

from ledgerlink.local.aws import own_query_language_scopes


def test_each_preprocessor_has_its_own_scope_stack():
    own_query_language_scopes()
    own_query_language_scopes()   # idempotent
    first, second = Preprocessor(), Preprocessor()
    assert first._query_language_per_scope == [] and second._query_language_per_scope == []
    first._query_language_per_scope.append("JSONPath")
    assert second._query_language_per_scope == []
