"""Content review (内容审核): watched words (block, censor, require approval, flag) matched by an
Aho-Corasick automaton over folded text, and the review queue where moderators approve or
reject what was held, the author told why. The packages that publish members' words (the
board, the profile, conversations, broadcasts) call moderation.words.check before they keep
anything; what a held item is, and what approving or rejecting it does, is theirs
(moderation.review.Reviewables, wired by the composition root)."""
