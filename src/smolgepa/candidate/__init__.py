"""The candidate GEPA evolves for a tiny model: the instruction text and its header lines
(`header`): how the answer is read (`reading_line`), the label words (`label_words`), the examples
block (`instruction`), and which parts a proposal changed (`candidate_parts`)."""
