"""The alias layer: application code asks LiteLLM for an alias (``tip-generator``, ``embedder``, ``judge``) and never
names a model; swapping a model is configuration.

:mod:`~oo_app.llm.aliases` holds the names, :mod:`~oo_app.llm.router` the Router and :func:`~oo_app.llm.router.embed`,
:mod:`~oo_app.llm.breaker` the circuit breakers of the model servers, :mod:`~oo_app.llm.local` the models that run in
this process. The package never imports the recommender or
operations: the providers and hooks they offer are handed to the router by :func:`oo_app.bootstrap.bootstrap`.
"""

import os

# LiteLLM otherwise fetches its model cost map from the internet at import time. Set here, so that a process that
# only names an alias has them before anything (MLflow's autolog, say) imports LiteLLM.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("LITELLM_TELEMETRY", "False")
