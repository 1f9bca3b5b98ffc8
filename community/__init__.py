"""Community: two rooms, the daily feed (community.feed) and the member board (community.board),
sharing the text rules (text), the search index (search) and readable cursors (cursors)."""
