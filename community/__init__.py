"""Community: the daily feed (a morning voice and its keyword) and, later, the member board."""
