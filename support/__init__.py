"""Customer service (联系我们): a member writes to the staff, staff answer; the queue."""
