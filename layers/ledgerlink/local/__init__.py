"""The local runtime: the same handlers as on AWS, against moto, with an embedded Beancount book.

Not shipped in the Lambda layer. ``LocalRuntime`` starts a ``ThreadedMotoServer`` on 127.0.0.1,
creates the resources, runs the *deployed* state machine definition on moto's Step Functions engine
(task Lambdas invoked in-process), drains SQS with Lambda's batch / partial-failure / visibility /
max-receive semantics, and serves API Gateway's webhook route over HTTP.
"""
