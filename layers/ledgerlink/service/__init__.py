"""Use cases: each wires pure pipeline code to store adapters (ports) for one Lambda step.

Handlers in ``functions/`` parse the event, build or reuse a service, call one method, shape the
result. Services take their adapters as constructor arguments so tests pass fakes or moto-backed ones.
"""
