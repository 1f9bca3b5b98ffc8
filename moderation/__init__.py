"""Content review (内容审核): watched words (block, censor, require approval, flag) matched by an
Aho-Corasick automaton over folded text, and the review queue where moderators approve or
reject what was held, the author told why. The packages that publish members' words (the
board, conversations) call moderation.words.screen before they keep anything; accounts,
below this package, reads moderation.profiles' check of names, bios and young accounts'
avatars through a wire (accounts.profile_review); a broadcast is only warned of its words
(moderation.words.watched_in). What a held item is, and what approving or rejecting it does,
is its package's (moderation.review.Reviewables, wired by the composition root)."""
