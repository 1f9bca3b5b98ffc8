"""The member board: job offers, hiring, knowledge sharing, questions; moderation."""
