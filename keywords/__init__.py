"""The keyword box: the daily keyword, admins' auto-replies, and the lookups that found nothing."""
