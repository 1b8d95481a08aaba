"""The names of the alias layer: the aliases application code asks for and the models of the local providers.

Names only: this module imports nothing of the app, so the UI, the hub and tracking can name a model without loading
LiteLLM or the recommender.
"""

from __future__ import annotations

TIP_GENERATOR = "tip-generator"
EMBEDDER = "embedder"
JUDGE = "judge"
COMPOSER_PROVIDER = "oo-rules"
COMPOSER_MODEL = f"{COMPOSER_PROVIDER}/composer"
CHECKS_MODEL = f"{COMPOSER_PROVIDER}/checks"
SAMPLES_DRAWN = "oo_samples_drawn"  # in a local tip's _hidden_params: how many samples it took
LOCAL_PROVIDER = "oo-local"
LOCAL_EMBEDDING_MODEL = f"{LOCAL_PROVIDER}/all-minilm-l6-v2"
LOCAL_TIP_MODEL = f"{LOCAL_PROVIDER}/gemma3-270m"
