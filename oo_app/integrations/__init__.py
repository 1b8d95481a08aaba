"""Third-party integrations through delegated auth (Todoist), with tokens encrypted at rest."""
