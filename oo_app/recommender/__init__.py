"""The recommender: the core of oO. ``recommend()`` writes the next tip; ``feedback`` closes the loop."""

from oo_app.recommender.feedback import current_tip, mark_shown, next_tip, react, refresh_tips, replacement_tip
from oo_app.recommender.service import recommend

__all__ = ["current_tip", "mark_shown", "next_tip", "react", "recommend", "refresh_tips", "replacement_tip"]
