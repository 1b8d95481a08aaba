"""The task engine: background work on a schedule, in-process or on procrastinate workers.

:mod:`~oo_app.tasks.engine` builds the procrastinate app from the domains that have jobs (each module's
``register(app)``, listed in one place), applies its schema and runs a worker; :mod:`~oo_app.tasks.recovery` puts
the jobs of dead workers back in the queue; :mod:`~oo_app.tasks.agent_jobs` is the agents' domain of jobs;
:mod:`~oo_app.tasks.scheduler` and :mod:`~oo_app.tasks.inprocess` are the single-process twin, lifespan tasks of the
app. Domains never import this package to register themselves: the engine imports them. Never import Reflex here.
"""
