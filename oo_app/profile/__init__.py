"""The person's profile: preferences, consents, contexts, data export and account deletion."""
