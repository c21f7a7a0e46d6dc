"""Choosing between candidates on evidence: the screen of structural moves on the training split
(out-of-fold answers) and validation, the paired sequential acceptance rule with its error rates, and
the final pick among GEPA's Pareto front. Proposers ask it; they do not each decide."""
