"""Growth through friends: share links, attribution, one level of referral rewards, posters."""
