"""The finance-ops web console: server-rendered pages over the same services as the CLI and the ops API.

Who may do what is decided here, on the server, for every request (``roles``); the pages only hide what a role
cannot do. Users sign in with the Cognito user pool (moto's locally): the ID token's ``cognito:groups`` are the roles.
"""
