"""Operator actions over HTTP, for people with the admin role (``OO_ADMIN_EMAILS``): the domain actions in
:mod:`.actions`, each audited, and their thin routes in :mod:`.routes`, included by :mod:`oo_app.api`."""
