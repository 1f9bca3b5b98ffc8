"""Customer service (联系我们): a member writes to the staff, the staff answer; the waiting queue."""
