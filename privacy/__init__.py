"""Personal data the member controls (PIPL arts. 45 and 47): a copy of everything Shuyuan holds
about a person, and the erasure that follows leaving (注销)."""
