"""The task engine: background work on a schedule, in-process or on procrastinate workers.

:mod:`~oo_app.tasks.domains` lists the domains that have jobs once, each with its ``register(app)`` for the
workers and its loop for the app's own process (the single-process twin, lifespan tasks of the app);
:mod:`~oo_app.tasks.engine` builds the procrastinate app from those registers, applies its schema and runs a worker;
:mod:`~oo_app.tasks.recovery` puts the jobs of dead workers back in the queue; :mod:`~oo_app.tasks.agent_jobs` is the
agents' domain of jobs, :mod:`~oo_app.tasks.scheduler` the rounds of its loop. Domains never import this package to
register themselves: it imports them. Never import Reflex here.
"""
