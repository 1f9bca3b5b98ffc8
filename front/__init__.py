"""The front page: today across Shuyuan, composed from the feed, the store, membership and the
board (it stands above them all and below jobs)."""
