"""Taught keywords: the user's examples, a light classifier per keyword on the stored image embeddings,
and the learner that applies it to new photos (tag stage) and to the library (through the queue)."""
